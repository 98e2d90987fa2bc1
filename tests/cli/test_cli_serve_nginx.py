"""The feed through Debian's nginx with X-Accel-Redirect, configured as docs/production.md says.

A real `sitealert serve` (SITEALERT_ACCEL_REDIRECT set) and a real nginx, both on loopback, the
nginx unprivileged in a temporary directory, its locations taken verbatim from the documentation
(only the `alias` path changed; tests/cli/serve_harness.py). SiteAlert checks the token and answers
with headers; nginx sends the file.
"""

import gzip
import time
from pathlib import Path

import pytest

from tests.cli import serve_harness as harness

pytestmark = pytest.mark.slow

# What a client gets from SiteAlert about the document, whoever sends the body.
DOCUMENT_HEADERS = ("content-type", "content-encoding", "content-disposition", "etag", "vary", "cache-control",
                    "x-sitealert-version", "x-sitealert-checksum", "x-content-type-options")


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    if not Path(harness.NGINX).exists():
        pytest.fail(f"{harness.NGINX} is missing: install Debian's nginx (scripts/test does)")
    data = tmp_path_factory.mktemp("nginx-data")
    site = harness.Installation(data, 20_000, env={"SITEALERT_ACCEL_REDIRECT": harness.ACCEL_PREFIX})
    server, app_port = site.serve(workers=1)
    try:
        nginx, port = harness.start_nginx(tmp_path_factory.mktemp("nginx"), app_port, data / "feed-cache")
        try:
            yield site, port, app_port
        finally:
            harness.stop(nginx)
    finally:
        harness.stop(server)


def feed(port, token, fmt, encoding="identity", headers=()):
    auth = [f"Authorization: Bearer {token}"] if token else []
    return harness.get(port, f"/api/v1/feed?format={fmt}", [*auth, f"Accept-Encoding: {encoding}", *headers])


@pytest.mark.parametrize("fmt", ["json", "txt"])
@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_nginx_sends_the_whole_document_with_sitealerts_headers(proxied, fmt, encoding):
    site, port, app_port = proxied
    status, headers, body = feed(port, site.token, fmt, encoding)
    assert status == 200, body[:300]
    assert int(headers["content-length"]) == len(body) > 10_000
    document = gzip.decompress(body) if encoding == "gzip" else body
    assert harness.list_checksum(document, fmt) == headers["x-sitealert-checksum"]
    assert len(document.splitlines() if fmt == "txt" else document.split(b'"target"')[1:]) == 20_000

    # SiteAlert itself answered with headers only; nginx kept every header that describes the document.
    app_status, app_headers, app_body = feed(app_port, site.token, fmt, encoding)
    assert app_status == 200 and app_body == b""
    assert app_headers["x-accel-redirect"].startswith(harness.ACCEL_PREFIX)
    assert app_headers["x-accel-redirect"].endswith(f".{fmt}.gz" if encoding == "gzip" else f".{fmt}")
    assert "x-accel-redirect" not in headers
    for name in DOCUMENT_HEADERS:
        assert headers.get(name) == app_headers.get(name), name
    assert headers.get("content-encoding") == ("gzip" if encoding == "gzip" else None)
    assert headers["content-disposition"] == f'inline; filename="sitealert-v1.{fmt}"'


def test_an_unchanged_list_is_304_through_nginx(proxied):
    site, port, _app_port = proxied
    _status, headers, _body = feed(port, site.token, "txt", "gzip")
    status, again, body = feed(port, site.token, "txt", "gzip", [f"If-None-Match: {headers['etag']}"])
    assert status == 304 and body == b""
    assert again["etag"] == headers["etag"]
    assert again["x-sitealert-version"] == "1"


def test_a_download_resumes_with_a_range(proxied):
    site, port, _app_port = proxied
    _status, _headers, whole = feed(port, site.token, "txt")
    status, headers, part = feed(port, site.token, "txt", headers=["Range: bytes=1000-"])
    assert status == 206 and part == whole[1000:]
    assert headers["content-range"] == f"bytes 1000-{len(whole) - 1}/{len(whole)}"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_the_token_is_still_required(proxied, token):
    _site, port, _app_port = proxied
    status, headers, body = feed(port, token, "txt")
    assert status == 401
    assert len(body) < 1000
    assert "x-sitealert-checksum" not in headers


def test_the_internal_location_is_not_reachable_directly(proxied):
    site, port, app_port = proxied
    _status, app_headers, _body = feed(app_port, site.token, "txt")
    status, _headers, body = harness.get(port, app_headers["x-accel-redirect"],
                                         [f"Authorization: Bearer {site.token}"])
    assert status == 404
    assert not body.startswith(b"www.") and b".example\n" not in body


def test_a_document_gone_before_nginx_opens_it_is_asked_for_once_more(proxied, tmp_path):
    """As when a newer version's documents replace it: here nginx looks in an empty directory."""
    site, _port, app_port = proxied
    nginx, port = harness.start_nginx(tmp_path / "nginx", app_port, tmp_path / "empty-cache")
    log = site.data_dir / "access.log"
    try:
        before = settled_count(log, "/api/v1/feed?format=txt")
        status, _headers, _body = feed(port, site.token, "txt")
    finally:
        harness.stop(nginx)
    assert status == 404
    assert settled_count(log, "/api/v1/feed?format=txt") - before == 2


def settled_count(log, needle, quiet=0.5, limit=10):
    """How often needle is in gunicorn's access log once the log stops growing: a worker writes a
    request's line after sending its answer, so the line can trail the answer nginx passed on."""
    deadline, count, since = time.monotonic() + limit, None, time.monotonic()
    while True:
        now_count = log.read_text().count(needle)
        if now_count != count:
            count, since = now_count, time.monotonic()
        elif time.monotonic() - since >= quiet or time.monotonic() > deadline:
            return count
        time.sleep(0.05)
