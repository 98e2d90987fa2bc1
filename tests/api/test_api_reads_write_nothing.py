"""A read never writes to the database (SPEC §11): what reads count waits in the process for a flush."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sitealert.core import tallies
from sitealert.core.models import AuditEvent, RateLimitCount
from tests.api.conftest import bearer, body

pytestmark = pytest.mark.django_db

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


@pytest.fixture
def listed(italy, list_targets):
    list_targets(italy, ["films.example", "music.example", "android:com.example.app"])


def writes_of(call):
    """The statements of `call()` that write, and its response (read whole, as a client would)."""
    with CaptureQueriesContext(connection) as queries:
        response = call()
        if response.streaming:
            b"".join(response.streaming_content)
    return [q["sql"] for q in queries.captured_queries if WRITE.match(q["sql"])], response


def warm(call):
    """Once first: a feed document is built and cached on disk at its first request, not at every read."""
    call()
    return call


def read_endpoints(client, token, etag):
    auth = bearer(token)
    return {
        "feed json": lambda: client.get("/api/v1/feed", headers=auth),
        "feed txt gzip": lambda: client.get("/api/v1/feed?format=txt",
                                            headers={**auth, "Accept-Encoding": "gzip"}),
        "feed 304": lambda: client.get("/api/v1/feed", headers={**auth, "If-None-Match": etag}),
        "feed HEAD": lambda: client.head("/api/v1/feed?format=csv", headers=auth),
        "changes": lambda: client.get("/api/v1/feed/changes?since=0", headers=auth),
        "changes since 1": lambda: client.get("/api/v1/feed/changes?since=1", headers=auth),
        "lookup": lambda: client.post("/api/v1/lookup", {"items": ["x.films.example", "other.example", "com"]},
                                      content_type="application/json", headers=auth),
        "token": lambda: client.get("/api/v1/token", headers=auth),
        "api check": lambda: client.get("/api/v1/check?q=films.example"),
        "api check refused": lambda: client.get("/api/v1/check?q=com"),
        "hashes": lambda: client.get("/api/v1/hashes/3fa0"),
        "hashes 304": lambda: client.get("/api/v1/hashes/3fa0", headers={"If-None-Match": hashes_etag(client)}),
        "hashes refused": lambda: client.get("/api/v1/hashes/xyz"),
    }


def hashes_etag(client):
    return client.get("/api/v1/hashes/0000")["ETag"]


@pytest.mark.parametrize("name", ["feed json", "feed txt gzip", "feed 304", "feed HEAD", "changes",
                                  "changes since 1", "lookup", "token", "api check", "api check refused",
                                  "hashes", "hashes 304", "hashes refused"])
def test_an_api_read_writes_nothing(client, listed, adco_token, name):
    etag = client.get("/api/v1/feed", headers=bearer(adco_token))["ETag"]
    call = warm(read_endpoints(client, adco_token, etag)[name])
    tallies.flush()
    writes, response = writes_of(call)
    assert response.status_code in (200, 304, 400), body(response)
    assert writes == []


@pytest.mark.parametrize("path", ["/", "/check/", "/check/?q=films.example", "/check/?q=https://x.music.example/a",
                                  "/procedures/", "/procedures/{italy}/", "/members/{adco}/",
                                  "/members/{adco}/badge.svg", "/review-requests/new/", "/statistics/"])
def test_a_public_page_writes_nothing(client, listed, italy, adco, path):
    url = path.format(italy=italy.slug, adco=adco.slug)
    warm(lambda: client.get(url))
    writes, response = writes_of(lambda: client.get(url))
    assert response.status_code == 200
    assert writes == []


def test_the_web_download_writes_nothing(client, listed, carol):
    client.force_login(carol)
    call = warm(lambda: client.get("/download/sitealert.txt"))
    tallies.flush()
    writes, response = writes_of(call)
    assert response.status_code == 200 and writes == []
    tallies.flush()
    assert [e.detail["count"] for e in AuditEvent.objects.filter(action="feed.download", via="web")] == [1, 1]


def test_what_reads_counted_arrives_at_the_flush(client, listed, adco_token):
    for _ in range(3):
        client.get("/api/v1/check?q=films.example", REMOTE_ADDR="192.0.2.7")
        client.get("/api/v1/feed?format=txt", headers=bearer(adco_token))
    assert not RateLimitCount.objects.exists() and not AuditEvent.objects.filter(action="feed.download").exists()
    tallies.flush()
    counts = dict(RateLimitCount.objects.values_list("key", "count"))
    assert counts["public-check:192.0.2.7"] == 3
    assert sum(count for key, count in counts.items() if key.startswith("api-token:")) == 3
    assert AuditEvent.objects.get(action="feed.download").detail["count"] == 3
