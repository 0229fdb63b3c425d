"""Interop suite: pyqwest against real third-party servers (nginx, Apache httpd, caddy,
nghttpd) started on loopback from configs generated per session (issue 11)."""
