"""Request bodies against a real server process (``python -m nasweb.server``, Daphne with the
request gate): refusals come before the body is read, and the server's peak memory does not grow
with the size of an upload (issue 12: a 600 MB POST used to take Daphne to 7 GB)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from rest_framework.authtoken.models import Token

from nasweb.searches.testing import database_url

pytestmark = [pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
UPLOAD_LIMIT = 300 * MiB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nasweb.settings",
               DATABASE_URL=database_url(), MEDIA_ROOT=str(tmp_path / "media"),
               UNAS_UPLOAD_MAX_BYTES=str(UPLOAD_LIMIT), TMPDIR=str(tmp_path),
               DJANGO_DEBUG="false")
    proc = subprocess.Popen([sys.executable, "-m", "nasweb.server", "-b", "127.0.0.1", "-p",
                             str(port), "nasweb.asgi:application"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "log", "wb"))
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise AssertionError((tmp_path / "log").read_text())
    yield proc, port
    proc.terminate()
    proc.wait(timeout=20)


def raw_response(port: int, head: str, timeout: float = 10.0) -> tuple[bytes, float]:
    """Send only the request line and headers; the answer that comes before any body."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        sock.settimeout(timeout)
        data = b""
        try:
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    return data, time.monotonic() - started


def post(port: int, path: str, body_file: Path, prefix: bytes, suffix: bytes,
         headers: dict[str, str], chunked: bool = False) -> tuple[int, bytes]:
    """Stream ``prefix + file + suffix`` as the body in 1 MiB pieces; (status, body)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    size = len(prefix) + body_file.stat().st_size + len(suffix)
    conn.putrequest("POST", path)
    for name, value in headers.items():
        conn.putheader(name, value)
    if chunked:
        conn.putheader("Transfer-Encoding", "chunked")
    else:
        conn.putheader("Content-Length", str(size))
    conn.endheaders()

    def pieces():
        yield prefix
        with open(body_file, "rb") as fh:
            while chunk := fh.read(MiB):
                yield chunk
        yield suffix

    try:
        for piece in pieces():
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused while sending: read the answer that was sent before
    response = conn.getresponse()
    return response.status, response.read()


def multipart(filename: str) -> tuple[bytes, bytes, dict[str, str]]:
    boundary = "unasboundary7"
    prefix = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nbig\r\n"
              f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
              f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
              ).encode()
    suffix = f"\r\n--{boundary}--\r\n".encode()
    return prefix, suffix, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def token_headers() -> dict[str, str]:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bodies", password="x" * 12)
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


def test_refusals_come_before_the_body(server):
    proc, port = server
    cases = [
        # an anonymous 600 MB POST to a GET-only endpoint
        ("POST /api/mcu-presets/ HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 600000000\n"
         "Content-Type: multipart/form-data; boundary=x\n", 405),
        # an anonymous upload under the size limit
        ("POST /api/datasets/uploads/ HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 200000000\n"
         "Content-Type: multipart/form-data; boundary=x\n", 403),
        # a bad token is no better
        ("POST /api/datasets/uploads/ HTTP/1.1\nHost: 127.0.0.1\nContent-Length: 200000000\n"
         "Authorization: Token 0123456789abcdef0123456789abcdef01234567\n"
         "Content-Type: multipart/form-data; boundary=x\n", 403),
        # over the limit by Content-Length, with curl's Expect: 100-continue
        (f"POST /api/datasets/uploads/ HTTP/1.1\nHost: 127.0.0.1\n"
         f"Content-Length: {UPLOAD_LIMIT * 2}\nExpect: 100-continue\n"
         "Content-Type: multipart/form-data; boundary=x\n", 413),
        ("PUT /api/nowhere/ HTTP/1.1\nHost: 127.0.0.1\nTransfer-Encoding: chunked\n", 404),
    ]
    for _attempt in range(2):  # the second round, after imports and caches, costs nothing
        reset_peak(proc.pid)
        before = peak_kb(proc.pid)
        for head, status in cases:
            data, seconds = raw_response(port, head)
            assert data.startswith(f"HTTP/1.1 {status} ".encode()), (head, data[:300])
            assert b"100 Continue" not in data and b'"detail"' in data
            assert seconds < 5, (head, seconds)
    assert peak_kb(proc.pid) - before < 1024
    # small requests still reach Django as before
    data, _ = raw_response(port, "GET /api/mcu-presets/ HTTP/1.1\nHost: 127.0.0.1\n"
                                 "Connection: close\n")
    assert data.startswith(b"HTTP/1.1 200 ")


def test_upload_memory_does_not_grow_with_the_body(server, tmp_path):
    """A 250 MB upload (a sparse file: not a data set, so refused after it is read) costs the
    server no more peak memory than a small one, and a chunked body over the limit is cut."""
    proc, port = server
    headers = token_headers()
    prefix, suffix, content = multipart("big.npz")
    headers.update(content)
    small, big = tmp_path / "small.npz", tmp_path / "big.npz"
    small.write_bytes(b"\0" * 4096)
    with open(big, "wb") as fh:
        fh.truncate(250 * MiB)
    for _ in range(2):  # warm up: imports, connections, first-request caches
        status, body = post(port, "/api/datasets/uploads/", small, prefix, suffix, headers)
        assert status == 400, body
    reset_peak(proc.pid)
    idle = peak_kb(proc.pid)
    status, body = post(port, "/api/datasets/uploads/", big, prefix, suffix, headers)
    assert status == 400 and b"not a readable .npz" in body, body
    grown = peak_kb(proc.pid) - idle
    chunk_kb = django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE // 1024
    print(f"peak growth for a 250 MiB upload: {grown} kB (chunk {chunk_kb} kB)")
    assert grown < 2 * chunk_kb, grown
    # chunked (no Content-Length) and over the limit: cut off while it streams
    with open(big, "wb") as fh:
        fh.truncate(UPLOAD_LIMIT + 4 * MiB)
    reset_peak(proc.pid)
    idle = peak_kb(proc.pid)
    status, body = post(port, "/api/datasets/uploads/", big, prefix, suffix, headers,
                        chunked=True)
    assert status == 413 and b"limit" in body, body
    assert peak_kb(proc.pid) - idle < 2 * chunk_kb
    from nasweb.searches.models import UploadedDataset

    assert not UploadedDataset.objects.exists()
    assert not list((tmp_path / "media").rglob("*.npz")) if (tmp_path / "media").exists() \
        else True


def npz_declaring(nbytes: int) -> bytes:
    """A small compressed .npz whose arrays are ``nbytes`` uncompressed (zeros)."""
    n = nbytes // (32 * 32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=np.zeros((n, 32, 32), np.uint8),
                        y_train=np.arange(n) % 2, x_test=np.zeros((4, 32, 32), np.uint8),
                        y_test=np.arange(4) % 2)
    return buffer.getvalue()
