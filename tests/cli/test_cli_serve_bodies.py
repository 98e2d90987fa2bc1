"""`sitealert serve` itself bounds how long a request body may take, and reads chunked bodies.

A real server in a subprocess on loopback, with two worker processes; raw sockets play the
clients, so the bytes on the wire are exactly the ones a slow or chunked client sends.
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tests import migrated
from tests.cli.serving import serving

pytestmark = pytest.mark.slow

BODY_TIMEOUT = 2
MAX_BODY = 4096


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("serve")
    env = {k: v for k, v in os.environ.items() if k != "SITEALERT_DATABASE_URL"}
    env.update(SITEALERT_DATA_DIR=str(data), SITEALERT_REQUEST_BODY_TIMEOUT=str(BODY_TIMEOUT),
               SITEALERT_MAX_REQUEST_BYTES=str(MAX_BODY),
               SITEALERT_SECRET_KEY="test-serve-bodies")
    def sitealert(*args):
        return subprocess.run([sys.executable, "-m", "sitealert", *args], env=env, check=True, capture_output=True,
                              text=True, timeout=120).stdout.strip()

    migrated.sqlite(data)
    slug = sitealert("org", "create", "--kind", "user", "--name", "Ad Platform")
    token = sitealert("token", "create", "--org", slug).split()[-1]
    with serving(env) as port:
        yield port, token


def exchange(port, raw, timeout=10):
    """Send raw bytes, read the whole answer (the server closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        return answer(sock)


def answer(sock):
    """(status, head, body) of the response on `sock`, read to the end, its chunks joined."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _sep, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        joined = b""
        while True:
            size, _sep, body = body.partition(b"\r\n")
            if not int(size, 16):
                break
            joined, body = joined + body[:int(size, 16)], body[int(size, 16) + 2:]
        body = joined
    return int(head.split()[1]), head.decode("latin-1"), body


def request(path, body=b"", headers=(), method="POST"):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_slow_bodies_do_not_make_the_server_unresponsive(server):
    port, _token = server
    slow = []
    try:
        # More slow clients than worker processes: each promises 1000 bytes and sends 10.
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(request("/api/v1/lookup", b'{"items": [', ["Content-Type: application/json",
                                                                   "Content-Length: 1000"]))
            slow.append(sock)
        started = time.monotonic()
        status, _head, _body = exchange(port, request("/api/v1/openapi.json", method="GET"),
                                        timeout=BODY_TIMEOUT * 3 + 5)
        assert status == 200
        assert time.monotonic() - started < BODY_TIMEOUT * 3 + 3
        # The slow clients are told why, within the bound.
        for sock in slow:
            sock.settimeout(BODY_TIMEOUT * 3 + 5)
            status, _head, body = answer(sock)
            assert status == 408
            assert json.loads(body)["error"] == "request_timeout"
    finally:
        for sock in slow:
            sock.close()


def test_a_chunked_body_is_read_not_taken_for_an_empty_one(server):
    port, token = server
    document = b'{"items": ["https://www.Example.com/watch", "ios:123"]}'
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (document[:10], document[10:]))
    status, _head, body = exchange(port, request("/api/v1/lookup", chunked + b"0\r\n\r\n", [
        "Content-Type: application/json", "Transfer-Encoding: chunked", f"Authorization: Bearer {token}"]))
    assert status == 200, body
    assert [r["target"] for r in json.loads(body)["results"]] == ["www.example.com", "ios:123"]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_over_the_server_limit_is_refused_without_reading_it(server, chunked):
    port, token = server
    document = json.dumps({"items": ["x.example"] * 1000}).encode()
    assert len(document) > MAX_BODY
    if chunked:
        body, framing = b"%x\r\n%s\r\n0\r\n\r\n" % (len(document), document), "Transfer-Encoding: chunked"
    else:
        body, framing = document, f"Content-Length: {len(document)}"
    status, head, body = exchange(port, request("/api/v1/lookup", body, [
        "Content-Type: application/json", framing, f"Authorization: Bearer {token}"]))
    assert status == 413, body
    assert json.loads(body)["error"] == "request_too_large"
    assert str(MAX_BODY) in json.loads(body)["detail"]


def test_a_web_page_is_told_in_plain_text(server):
    port, _token = server
    sock = socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT * 3 + 5)
    with sock:
        sock.sendall(request("/login/", b"username=a", ["Content-Type: application/x-www-form-urlencoded",
                                                                 "Content-Length: 500", "Accept-Language: fr"]))
        status, head, body = answer(sock)
    assert status == 408
    assert "text/plain" in head
    assert body.decode() == f"Le corps de la requête n'est pas arrivé en {BODY_TIMEOUT} secondes."
