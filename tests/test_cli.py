"""The ``pyqwest`` command, run as a subprocess against real loopback servers.

One test per exit status the command shares with curl, plus the flags' visible effects.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import pty
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from servers import HypercornServer, ScriptedServer
from servers.kitchensink import payload
from servers.scripted import canned
from servers.tls_certs import trustme

RUN_TIMEOUT = 30  # generous "does not hang" bound per command


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pyqwest", *args],
        input=stdin,
        capture_output=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[bytes], code: int) -> None:
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert err.startswith(f"pyqwest: ({code}) "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err


def echoed(head: bytes, name: str) -> list[str]:
    """The values of the kitchensink's ``x-echo-<name>`` response headers in a printed head."""
    prefix = f"x-echo-{name}: ".encode()
    return [line[len(prefix):].decode() for line in head.split(b"\r\n") if line.startswith(prefix)]


# -- success and the flags ---------------------------------------------------------------------


def test_get_writes_the_body_to_stdout(http_server: HypercornServer) -> None:
    proc = run_cli(f"{http_server.url}/bytes/1000")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == payload(1000)
    assert proc.stderr == b""


def test_console_script_runs_the_same_command(http_server: HypercornServer) -> None:
    script = shutil.which("pyqwest", path=os.path.dirname(sys.executable))
    assert script is not None
    proc = subprocess.run([script, f"{http_server.url}/bytes/10"], capture_output=True,
                          timeout=RUN_TIMEOUT, check=False)
    assert (proc.returncode, proc.stdout) == (0, payload(10))


def test_method_headers_and_data(http_server: HypercornServer) -> None:
    proc = run_cli("-i", "-X", "PUT", "-H", "X-One: 1", "-H", "X-One: 2", "-H", "X-Empty;",
                   "-d", "a=1", "-d", "b=2", f"{http_server.url}/echo")
    assert proc.returncode == 0, proc.stderr
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert echoed(head, "method") == ["PUT"]
    assert echoed(head, "x-one") == ["1", "2"]
    assert echoed(head, "x-empty") == [""]
    assert echoed(head, "content-type") == ["application/x-www-form-urlencoded"]
    assert echoed(head, "user-agent")[0].startswith("pyqwest/")
    assert body == b"a=1&b=2"


def test_data_from_file_strips_newlines_and_data_binary_keeps_them(
    http_server: HypercornServer, tmp_path: Path
) -> None:
    src = tmp_path / "body.txt"
    src.write_bytes(b"line1\nline2\n")
    assert run_cli("-d", f"@{src}", f"{http_server.url}/echo").stdout == b"line1line2"
    assert run_cli("--data-binary", f"@{src}", f"{http_server.url}/echo").stdout == src.read_bytes()


def test_json_posts_with_json_headers(http_server: HypercornServer) -> None:
    proc = run_cli("-i", "--json", '{"k": 1}', f"{http_server.url}/echo")
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    assert echoed(head, "method") == ["POST"]
    assert echoed(head, "content-type") == ["application/json"]
    assert echoed(head, "accept") == ["application/json"]
    assert json.loads(body) == {"k": 1}


def test_form_sends_multipart_parts(http_server: HypercornServer, tmp_path: Path) -> None:
    upload = tmp_path / "up.txt"
    upload.write_bytes(b"file body")
    proc = run_cli("-i", "-F", "field=text value", "-F", f"doc=@{upload};type=text/plain",
                   f"{http_server.url}/echo")
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    assert proc.returncode == 0, proc.stderr
    (content_type,) = echoed(head, "content-type")
    assert echoed(head, "method") == ["POST"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = email.message_from_bytes(
        f"content-type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
    assert parts["field"].get_content() == "text value"
    assert parts["doc"].get_filename() == "up.txt"
    assert parts["doc"].get_content_type() == "text/plain"
    assert parts["doc"].get_payload(decode=True) == b"file body"


def test_head_prints_only_the_head(http_server: HypercornServer) -> None:
    proc = run_cli("-I", f"{http_server.url}/bytes/100")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert proc.stdout.endswith(b"\r\n\r\n")
    assert b"content-length: 100\r\n" in proc.stdout


def test_verbose_shows_both_heads_on_stderr(http_server: HypercornServer) -> None:
    proc = run_cli("-v", f"{http_server.url}/bytes/5?chunk=5")
    err = proc.stderr.decode()
    assert proc.stdout == payload(5)
    assert "> GET /bytes/5?chunk=5\n" in err
    assert f"> host: {http_server.netloc}\n" in err
    assert "< HTTP/1.1 200 OK\n" in err
    assert "< content-length: 5\n" in err


def test_output_file(http_server: HypercornServer, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    proc = run_cli("-o", str(target), f"{http_server.url}/bytes/100000")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")  # no bar on a pipe
    assert target.read_bytes() == payload(100000)


def test_progress_bar_only_on_a_terminal(http_server: HypercornServer, tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pyqwest", "-o", str(target),
             f"{http_server.url}/bytes/200000"],
            stderr=follower, stdout=subprocess.DEVNULL, timeout=RUN_TIMEOUT, check=False,
        )
        os.close(follower)
        follower = -1
        shown = b""
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed and drained
                break
            if not data:
                break
            shown += data
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    assert proc.returncode == 0
    assert b"100%" in shown and b"195.3 KiB / 195.3 KiB" in shown
    assert target.read_bytes() == payload(200000)


def test_location_follows_redirects(http_server: HypercornServer) -> None:
    no_follow = run_cli("-i", f"{http_server.url}/redirect/2")
    assert no_follow.stdout.startswith(b"HTTP/1.1 302 ")
    followed = run_cli("-i", "-L", f"{http_server.url}/redirect/2")
    assert followed.stdout.startswith(b"HTTP/1.1 200 OK\r\n")


def test_http2_prior_knowledge(http_server: HypercornServer) -> None:
    proc = run_cli("-I", "--http2", f"{http_server.url}/bytes/3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"HTTP/2 200 OK\r\n")


def test_cacert_trusts_the_given_roots(
    https_server: HypercornServer, server_cert_files: dict[str, str]
) -> None:
    proc = run_cli("--cacert", server_cert_files["cafile"], "-I", f"{https_server.url}/bytes/3")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b"HTTP/2 200 OK\r\n")  # ALPN picks h2


def test_client_certificate(
    mtls_server: HypercornServer,
    server_cert_files: dict[str, str],
    client_cert: Any,
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_bytes(b"".join(b.bytes() for b in client_cert.cert_chain_pems))
    key.write_bytes(client_cert.private_key_pem.bytes())
    proc = run_cli("--cacert", server_cert_files["cafile"], "--cert", str(cert), "--key",
                   str(key), f"{mtls_server.url}/bytes/7")
    assert (proc.returncode, proc.stdout) == (0, payload(7)), proc.stderr


def test_timing_reports_client_side_times(http_server: HypercornServer) -> None:
    proc = run_cli("--timing", f"{http_server.url}/bytes/10")
    err = proc.stderr.decode()
    assert proc.returncode == 0
    assert "time to response head:" in err and "total time:" in err


def test_load_mode_prints_percentiles_and_rate(http_server: HypercornServer) -> None:
    proc = run_cli("-n", "40", "-c", "4", f"{http_server.url}/bytes/10")
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr
    assert "requests:    40 (0 failed)" in out
    assert "req/s" in out and "p50" in out and "p90" in out and "p99" in out
    assert "statuses:    200 x40" in out


def test_load_mode_exits_with_the_failure_code(http_server: HypercornServer) -> None:
    proc = run_cli("-f", "-n", "3", "-c", "2", f"{http_server.url}/status/404")
    assert proc.returncode == 22
    assert "requests:    3 (3 failed)" in proc.stdout.decode()


# -- one test per exit status ------------------------------------------------------------------


def test_exit_7_http3_nothing_listening() -> None:
    # HTTP/3 is there (the test extra has cpqwest[http3]): a closed UDP port is a connect error
    assert_one_line_error(run_cli("--http3", "https://127.0.0.1:1/"), 7)


def test_exit_1_unsupported_scheme() -> None:
    assert_one_line_error(run_cli("ftp://127.0.0.1:1/"), 1)


def test_exit_2_usage() -> None:
    proc = run_cli("--no-such-flag", "http://127.0.0.1:1/")
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr


def test_exit_3_bad_url() -> None:
    assert_one_line_error(run_cli("http://[::1/"), 3)


def test_exit_6_name_does_not_resolve() -> None:
    # a label over 63 bytes cannot be put in a DNS query: fails locally, nothing is sent
    assert_one_line_error(run_cli(f"http://{'a' * 64}.test/"), 6)


def test_exit_7_connection_refused(unused_port: int) -> None:
    assert_one_line_error(run_cli(f"http://127.0.0.1:{unused_port}/"), 7)


def test_exit_8_garbage_reply(scripted_factory: Callable[..., ScriptedServer]) -> None:
    server = scripted_factory(canned(b"garbage\r\n\r\n"))
    assert_one_line_error(run_cli(server.url_for("/")), 8)


def test_exit_22_fail_on_http_error(http_server: HypercornServer) -> None:
    proc = run_cli("-f", f"{http_server.url}/status/404")
    assert_one_line_error(proc, 22)
    assert proc.stdout == b""
    assert b"returned error: 404" in proc.stderr


def test_without_fail_an_http_error_is_a_success(http_server: HypercornServer) -> None:
    proc = run_cli(f"{http_server.url}/status/404")
    assert (proc.returncode, proc.stdout) == (0, b"status 404")


def test_exit_26_unreadable_data_file(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("-d", f"@{tmp_path / 'missing'}", "http://127.0.0.1:1/"), 26)


def test_exit_28_max_time(http_server: HypercornServer) -> None:
    assert_one_line_error(run_cli("-m", "0.3", f"{http_server.url}/stall?where=headers"), 28)


def test_exit_35_tls_handshake_fails(scripted_factory: Callable[..., ScriptedServer]) -> None:
    # a plain-text server answers the ClientHello with HTTP: the handshake cannot complete
    server = scripted_factory(canned(b"HTTP/1.1 400 Bad\r\n\r\n", read_request=False))
    assert_one_line_error(run_cli(f"https://127.0.0.1:{server.port}/"), 35)


def test_exit_47_too_many_redirects(http_server: HypercornServer) -> None:
    proc = run_cli("-L", "--max-redirs", "1", f"{http_server.url}/redirect/3")
    assert_one_line_error(proc, 47)


def test_exit_56_body_cut_by_reset(scripted_factory: Callable[..., ScriptedServer]) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789"
    server = scripted_factory(canned(head, then="rst"))
    assert_one_line_error(run_cli(server.url_for("/")), 56)


def test_exit_60_untrusted_certificate(https_server: HypercornServer, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    assert_one_line_error(run_cli("--cacert", str(other_ca), https_server.url + "/"), 60)


def test_exit_58_unusable_client_certificate(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(b"not a certificate")
    assert_one_line_error(run_cli("--cert", str(cert), "https://127.0.0.1:1/"), 58)


def test_exit_77_cacert_without_certificates(tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_bytes(b"no PEM block here")
    assert_one_line_error(run_cli("--cacert", str(cafile), "https://127.0.0.1:1/"), 77)


def test_silent_hides_the_error_and_show_error_brings_it_back(unused_port: int) -> None:
    url = f"http://127.0.0.1:{unused_port}/"
    quiet = run_cli("-s", url)
    assert (quiet.returncode, quiet.stderr) == (7, b"")
    assert_one_line_error(run_cli("-sS", url), 7)


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
