"""GET /api/v1/feed: the full aggregated list in JSON, txt and csv (SPEC §4)."""

import csv
import gzip
import io
import json

import pytest

from tests.api.conftest import bearer, body, independent_checksum

pytestmark = pytest.mark.django_db

# Byte order differs from dictionary order here: '-' < '.' < '0' < 'A' < '_' < 'a'.
TARGETS = ["zeta.example", "a-b.example", "a.example", "a0.example", "a_b.sub.example", "sub.a.example",
           "android:com.Example.App", "android:com.example.app", "ios:123456789", "xn--bcher-kva.example"]


@pytest.fixture
def listed(italy, korea, list_targets):
    list_targets(italy, TARGETS)
    list_targets(korea, ["a.example", "korea-only.test"], category="torrent-index")


def test_json_feed_is_the_spec_document_with_an_independent_checksum(client, listed, adco_token, get_feed):
    document = get_feed(adco_token)
    assert set(document) == {"version", "checksum", "entries"}
    targets = [e["target"] for e in document["entries"]]
    assert targets == sorted(set(TARGETS) | {"korea-only.test"})  # code-point order, not collation order
    by_target = {e["target"]: e for e in document["entries"]}
    assert by_target["a.example"]["countries"] == ["IT", "KR"]
    assert by_target["a.example"]["categories"] == ["streaming-video", "torrent-index"]
    assert by_target["ios:123456789"]["kind"] == "app"
    assert by_target["sub.a.example"] == {
        "target": "sub.a.example", "kind": "domain", "countries": ["IT"], "categories": ["streaming-video"],
        "first_listed_at": by_target["sub.a.example"]["first_listed_at"]}
    assert by_target["sub.a.example"]["first_listed_at"].endswith("Z")


def test_txt_and_csv_carry_the_same_version_and_checksum(client, listed, adco_token, get_feed):
    document = get_feed(adco_token)
    targets = [e["target"] for e in document["entries"]]

    txt = client.get("/api/v1/feed?format=txt", headers=bearer(adco_token))
    assert txt.status_code == 200
    assert txt["Content-Type"] == "text/plain; charset=utf-8"
    text = body(txt).decode()
    assert text == "".join(t + "\n" for t in targets)
    assert txt["X-SiteAlert-Version"] == str(document["version"])
    assert txt["X-SiteAlert-Checksum"] == independent_checksum(text.splitlines())

    response = client.get("/api/v1/feed?format=csv", headers=bearer(adco_token))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["X-SiteAlert-Version"] == str(document["version"])
    assert response["X-SiteAlert-Checksum"] == document["checksum"]
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert [r["target"] for r in rows] == targets
    both = next(r for r in rows if r["target"] == "a.example")
    assert both == {"target": "a.example", "kind": "domain", "countries": "IT KR",
                    "categories": "streaming-video torrent-index",
                    "first_listed_at": next(e for e in document["entries"]
                                            if e["target"] == "a.example")["first_listed_at"]}


def test_empty_list(client, adco_token, get_feed):
    document = get_feed(adco_token)
    assert document["entries"] == []
    assert document["checksum"] == independent_checksum([])
    txt = client.get("/api/v1/feed?format=txt", headers=bearer(adco_token))
    assert body(txt) == b""
    assert txt["X-SiteAlert-Checksum"] == document["checksum"]


@pytest.mark.parametrize("fmt", ["xml", "JSON", "", "txt;rm"])
def test_unknown_format_is_a_clear_400(client, adco_token, fmt):
    response = client.get("/api/v1/feed", {"format": fmt}, headers=bearer(adco_token))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_format"
    assert "json, txt or csv" in response.json()["detail"]


@pytest.mark.parametrize("fmt", ["json", "txt", "csv"])
def test_etag_and_if_none_match(client, listed, italy, list_targets, adco_token, fmt):
    first = client.get("/api/v1/feed", {"format": fmt}, headers=bearer(adco_token))
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')

    again = client.get("/api/v1/feed", {"format": fmt}, headers={**bearer(adco_token), "If-None-Match": etag})
    assert again.status_code == 304
    assert body(again) == b""
    assert again["ETag"] == etag
    assert again["X-SiteAlert-Version"] == first["X-SiteAlert-Version"]
    weak = client.get("/api/v1/feed", {"format": fmt},
                      headers={**bearer(adco_token), "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304

    list_targets(italy, ["new.example"])
    changed = client.get("/api/v1/feed", {"format": fmt}, headers={**bearer(adco_token), "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert b"new.example" in body(changed)


def test_not_modified_builds_nothing(client, listed, adco_token, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    etag = client.get("/api/v1/feed", headers=bearer(adco_token))["ETag"]
    cache_dir = settings.SITEALERT["FEED_CACHE_DIR"]
    for path in cache_dir.rglob("feed-*"):
        path.unlink()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/feed", headers={**bearer(adco_token), "If-None-Match": etag})
    assert response.status_code == 304
    assert not [q for q in queries.captured_queries if "feed_feedentry" in q["sql"]]
    assert not list(cache_dir.rglob("feed-*"))


@pytest.mark.parametrize("fmt", ["json", "txt", "csv"])
def test_gzip_when_accepted_and_never_twice(client, listed, adco_token, fmt):
    plain = client.get("/api/v1/feed", {"format": fmt}, headers=bearer(adco_token))
    assert plain.get("Content-Encoding") is None
    assert "Accept-Encoding" in plain["Vary"]

    packed = client.get("/api/v1/feed", {"format": fmt},
                        headers={**bearer(adco_token), "Accept-Encoding": "br;q=1.0, gzip;q=0.8"})
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    plain_body = body(plain)
    assert gzip.decompress(body(packed)) == plain_body  # one layer of gzip, the same document
    assert packed["X-SiteAlert-Checksum"] == plain["X-SiteAlert-Checksum"]
    assert packed["ETag"] != plain["ETag"]  # another representation: another strong tag

    refused = client.get("/api/v1/feed", {"format": fmt},
                         headers={**bearer(adco_token), "Accept-Encoding": "gzip;q=0, identity"})
    assert refused.get("Content-Encoding") in (None, "identity")
    assert body(refused) == plain_body


def test_gzip_etag_validates_either_representation(client, listed, adco_token):
    packed = client.get("/api/v1/feed", headers={**bearer(adco_token), "Accept-Encoding": "gzip"})
    again = client.get("/api/v1/feed", headers={**bearer(adco_token), "If-None-Match": packed["ETag"]})
    assert again.status_code == 304


def test_operator_reads_the_feed(client, listed, operator_token, get_feed):
    assert len(get_feed(operator_token)["entries"]) == len(TARGETS) + 1


def test_feed_downloads_are_audited_as_counts_at_the_next_flush(client, listed, adco, adco_token):
    from sitealert.core import tallies
    from sitealert.core.models import AuditEvent
    from sitealert.feed.builder import current_version

    for _ in range(3):
        client.get("/api/v1/feed?format=txt", headers=bearer(adco_token))
    client.get("/api/v1/feed?format=csv", headers=bearer(adco_token))
    assert not AuditEvent.objects.filter(action="feed.download").exists()  # the downloads wrote nothing
    tallies.flush()
    events = {e.object_repr: e for e in AuditEvent.objects.filter(action="feed.download")}
    assert set(events) == {"txt", "csv"}
    txt = events["txt"]
    assert txt.organization == adco and txt.via == "api" and txt.token_hint
    assert txt.detail["count"] == 3 and txt.detail["version"] == current_version() and "last_at" in txt.detail
    assert events["csv"].detail["count"] == 1
    tallies.flush()  # nothing counted since: nothing more written
    assert AuditEvent.objects.filter(action="feed.download").count() == 2


def test_json_document_parses_as_json_with_unusual_but_valid_targets(client, italy, list_targets, adco_token):
    list_targets(italy, ["r3---sn-abc.films.example", "_dmarc-ish.films.example", "xn--80ak6aa92e.example"])
    response = client.get("/api/v1/feed", headers=bearer(adco_token))
    assert [e["target"] for e in json.loads(body(response))["entries"]] == sorted(
        ["r3---sn-abc.films.example", "_dmarc-ish.films.example", "xn--80ak6aa92e.example"])


@pytest.mark.django_db
def test_head_gives_the_headers_of_get_without_a_body_and_is_no_download(client, adco_token, italy, list_targets):
    from sitealert.core import tallies
    from sitealert.core.models import AuditEvent

    list_targets(italy, ["films.example", "music.example"])
    get = client.get("/api/v1/feed?format=txt", headers=bearer(adco_token))
    assert b"".join(get.streaming_content) == b"films.example\nmusic.example\n"
    head = client.head("/api/v1/feed?format=txt", headers=bearer(adco_token))
    assert head.status_code == 200 and b"".join(head.streaming_content) == b""
    for name in ("X-SiteAlert-Version", "X-SiteAlert-Checksum", "ETag", "Content-Type"):
        assert head[name] == get[name]
    tallies.flush()
    assert [e.detail["count"] for e in AuditEvent.objects.filter(action="feed.download")] == [1]
    assert client.head("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 200


@pytest.mark.django_db
def test_a_wrong_method_is_a_json_405_naming_the_allowed_ones(client, adco_token):
    response = client.get("/api/v1/lookup", headers=bearer(adco_token))
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert client.post("/api/v1/feed", headers=bearer(adco_token))["Allow"] == "GET, HEAD"
    assert response.json()["error"] == "method_not_allowed" and "POST" in response.json()["detail"]
    assert client.delete("/api/v1/feed", headers=bearer(adco_token)).json()["error"] == "method_not_allowed"


@pytest.mark.django_db
def test_a_version_of_many_digits_is_ahead_not_malformed(client, adco_token):
    response = client.get("/api/v1/feed/changes?since=" + "9" * 20, headers=bearer(adco_token))
    assert response.status_code == 400 and response.json()["error"] == "version_ahead"
    assert client.get("/api/v1/feed/changes?since=" + "9" * 101,
                      headers=bearer(adco_token)).json()["error"] == "invalid_since"


@pytest.mark.django_db
def test_gzip_refused_with_q0_is_neither_compressed_nor_labelled(client, adco_token, italy, list_targets):
    list_targets(italy, [f"site{i}.example" for i in range(40)])  # well over GZipMiddleware's 200 bytes
    for path in ("/api/v1/feed", "/api/v1/feed/changes?since=0", "/statistics/"):
        refused = client.get(path, headers={**bearer(adco_token), "Accept-Encoding": "gzip;q=0, identity"})
        assert refused.status_code == 200 and not refused.has_header("Content-Encoding")
        assert "Accept-Encoding" in refused["Vary"]
        taken = client.get(path, headers={**bearer(adco_token), "Accept-Encoding": "gzip"})
        assert taken["Content-Encoding"] == "gzip" and "Accept-Encoding" in taken["Vary"]


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_behind_a_proxy_the_answer_names_the_cached_file_and_has_no_body(client, listed, adco_token, settings,
                                                                          encoding):
    settings.SITEALERT = {**settings.SITEALERT, "ACCEL_REDIRECT": "/_sitealert/feed-cache/"}
    response = client.get("/api/v1/feed?format=txt", headers={**bearer(adco_token), "Accept-Encoding": encoding})
    assert response.status_code == 200
    assert not response.streaming and response.content == b""
    location = response["X-Accel-Redirect"]
    assert location.startswith("/_sitealert/feed-cache/")
    stored = (settings.SITEALERT["FEED_CACHE_DIR"] / location.removeprefix("/_sitealert/feed-cache/")).read_bytes()
    text = gzip.decompress(stored) if encoding == "gzip" else stored
    assert response["X-SiteAlert-Checksum"] == independent_checksum(text.decode().splitlines())
    assert response.get("Content-Encoding") == ("gzip" if encoding == "gzip" else None)
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["ETag"] and "Accept-Encoding" in response["Vary"]
    assert response["Content-Disposition"] == f'inline; filename="sitealert-v{response["X-SiteAlert-Version"]}.txt"'
