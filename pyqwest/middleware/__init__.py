"""Transports that wrap other transports (API.md §3.6): `pyqwest.middleware.retry`."""
