"""The feed documents: checksum, order, consistency of version and checksum, the on-disk cache."""

import gzip
import hashlib
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sitealert.feed import builder
from sitealert.feed.models import FeedEntry, FeedState
from sitealert.feed.render import checksum_of

pytestmark = pytest.mark.django_db

TARGETS = ["b.example", "a.example", "a-b.example", "a_b.sub.example", "a0.example", "sub.a.example",
           "android:com.Example.App", "android:com.example.app", "ios:42", "xn--bcher-kva.example"]


def sha(targets):
    return "sha256:" + hashlib.sha256(b"".join(t.encode() + b"\n" for t in sorted(targets))).hexdigest()


def feed_json():
    version, checksum, body = builder.cached_feed("json")
    document = json.loads(body)
    assert (document["version"], document["checksum"]) == (version, checksum)
    return document


@pytest.fixture
def listed(italy, list_targets):
    return list_targets(italy, TARGETS).version


def test_checksum_is_sha256_of_sorted_targets_each_with_a_newline(listed):
    document = feed_json()
    targets = [e["target"] for e in document["entries"]]
    assert targets == sorted(TARGETS)
    assert document["checksum"] == sha(TARGETS)
    assert checksum_of(sorted(TARGETS)) == sha(TARGETS)
    assert builder.current_checksum() == (listed, sha(TARGETS))
    assert builder.cached_feed("txt")[2] == "".join(t + "\n" for t in sorted(TARGETS)).encode()


def test_empty_list_checksum():
    assert feed_json() == {"version": 0, "checksum": sha([]), "entries": []}
    assert builder.cached_feed("csv")[2] == builder.CSV_HEADER.encode()


def test_every_format_has_the_same_version_and_checksum(listed):
    results = {fmt: builder.cached_feed(fmt) for fmt in builder.FORMATS}
    assert {(v, c) for v, c, _ in results.values()} == {(listed, sha(TARGETS))}


def test_documents_are_built_once_per_version(italy, listed, list_targets):
    builder.cached_feed("json")
    with CaptureQueriesContext(connection) as queries:
        builder.cached_feed("json")
        builder.cached_feed("txt")  # written beside the JSON document
    assert not [q for q in queries.captured_queries if "feed_feedentry" in q["sql"]]

    new_version = list_targets(italy, ["c.example"]).version
    document = feed_json()
    assert document["version"] == new_version
    assert "c.example" in [e["target"] for e in document["entries"]]
    assert document["checksum"] == sha(TARGETS + ["c.example"])


def test_cache_is_keyed_by_the_database_epoch(listed, settings):
    """A reset database reaching the same version number never gets another database's documents."""
    builder.cached_feed("json")
    FeedEntry.objects.filter(target="b.example").delete()  # same version, different content
    FeedState.objects.update(epoch="another-database")
    document = feed_json()
    assert document["version"] == listed
    assert "b.example" not in [e["target"] for e in document["entries"]]
    assert document["checksum"] == sha([t for t in TARGETS if t != "b.example"])
    assert (settings.SITEALERT["FEED_CACHE_DIR"] / "another-database").is_dir()


def test_gzip_twin_holds_the_same_bytes(listed):
    for fmt in builder.FORMATS:
        plain = builder.cached_feed(fmt)
        packed = builder.cached_feed(fmt, gzipped=True)
        assert packed[:2] == plain[:2]
        assert gzip.decompress(packed[2]) == plain[2]


def test_gzip_first_then_plain(listed):
    packed = builder.cached_feed("csv", gzipped=True)
    assert builder.cached_feed("csv")[2] == gzip.decompress(packed[2])


def test_etags_name_version_format_and_encoding(listed):
    state = builder.feed_state()
    tags = {builder.etag(state, fmt, gz) for fmt in builder.FORMATS for gz in (False, True)}
    assert len(tags) == 6
    document = builder.open_feed("json", gzipped=True)
    document.file.close()
    assert document.etag == builder.etag(state, "json", True)


def test_old_documents_are_pruned_from_disk(italy, list_targets, settings):
    builder.cached_feed("csv")
    for i in range(4):
        list_targets(italy, [f"site{i}.example"])
        builder.cached_feed("json", gzipped=True)
    version = builder.current_version()
    names = {p.name for p in settings.SITEALERT["FEED_CACHE_DIR"].rglob("feed-*")}
    # The newest of each format stays: it is served, and it is the base of the next splice.
    assert names == {f"feed-{version}.json", f"feed-{version}.json.gz", f"feed-{version}.txt", "feed-0.csv"}
    assert builder.cached_feed("csv")[0] == version


def test_snapshot_rows(listed):
    version, rows = builder.snapshot()
    assert version == listed
    assert [r[0] for r in rows] == sorted(TARGETS)
    target, kind, countries, categories, first = rows[0]
    assert (kind, countries, categories) == ("domain", "IT", "streaming-video") and first.endswith("Z")


def test_entries_with_several_countries_and_categories(italy, korea, list_targets):
    list_targets(italy, ["shared.example"], category="torrent-index")
    list_targets(korea, ["shared.example"], category="cyberlocker")
    entry = feed_json()["entries"][0]
    assert entry["countries"] == ["IT", "KR"] and entry["categories"] == ["cyberlocker", "torrent-index"]
    csv_line = builder.cached_feed("csv")[2].decode().splitlines()[1]
    assert csv_line.startswith("shared.example,domain,IT KR,cyberlocker torrent-index,")


def test_many_entries_across_chunks(italy, list_targets, monkeypatch):
    monkeypatch.setattr(builder, "CHUNK_ROWS", 7)
    monkeypatch.setattr(builder, "FETCH_ROWS", 20)
    targets = [f"s{i:03d}.example" for i in range(50)]
    list_targets(italy, targets)
    document = feed_json()
    assert [e["target"] for e in document["entries"]] == targets
    assert document["checksum"] == sha(targets)
    lines = builder.cached_feed("csv")[2].decode().splitlines()
    assert len(lines) == 51 and [line.split(",")[0] for line in lines[1:]] == targets


def test_warm_builds_ahead(listed, settings):
    builder.warm()
    names = {p.name for p in settings.SITEALERT["FEED_CACHE_DIR"].rglob("feed-*")}
    assert {f"feed-{listed}.json", f"feed-{listed}.json.gz", f"feed-{listed}.txt", f"feed-{listed}.txt.gz"} <= names


@pytest.mark.django_db(transaction=True)
def test_consistent_read_outside_a_transaction(italy, list_targets):
    """The real path of a request: a read-only snapshot, then back to autocommit."""
    version = list_targets(italy, TARGETS).version
    with builder.consistent_read() as (seen, pruned):
        assert (seen, pruned) == (version, 0)
        assert connection.in_atomic_block or connection.connection.in_transaction
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                assert cursor.fetchone()[0] == "repeatable read"
    assert connection.get_autocommit() and not connection.in_atomic_block
    if connection.vendor == "sqlite":
        assert not connection.connection.in_transaction
    assert feed_json()["checksum"] == sha(TARGETS)
    list_targets(italy, ["after.example"])  # writers are not stuck behind a forgotten transaction
    assert builder.current_version() > version


def test_a_target_that_needs_escaping_stays_valid_json_and_csv(listed, italy, list_targets):
    """Targets are canonical, so this never happens through the services; the documents must still
    parse if a row was written by hand, and such a document is rebuilt rather than spliced."""
    import csv
    import io

    from django.utils import timezone

    odd = 'odd"name,with\\comma.example'
    FeedEntry.objects.create(target=odd, kind="domain", countries="IT", categories="other",
                             first_listed_at=timezone.now(), version=listed)
    entries = feed_json()["entries"]
    assert odd in [e["target"] for e in entries]
    assert [e["target"] for e in entries] == sorted(TARGETS + [odd])
    rows = list(csv.reader(io.StringIO(builder.cached_feed("csv")[2].decode())))
    assert [r[0] for r in rows[1:]] == sorted(TARGETS + [odd])
    list_targets(italy, ["later.example"])
    assert "later.example" in [e["target"] for e in feed_json()["entries"]]


def test_attributes_holding_a_tab_come_out_whole(listed, monkeypatch):
    """A build fetches kind, countries and categories joined by tabs; a value with a tab in it (only
    possible when written by hand) must still be rendered as it is. The first attempt stops while
    rows are still coming (small batches): the next query on the connection must still work."""
    from django.utils import timezone

    monkeypatch.setattr(builder, "CHUNK_ROWS", 1)
    monkeypatch.setattr(builder, "FETCH_ROWS", 2)

    FeedEntry.objects.create(target="tab.example", kind="domain", countries="IT\tKR", categories="other",
                             first_listed_at=timezone.now(), version=listed)
    entries = feed_json()["entries"]
    assert [e["target"] for e in entries] == sorted(TARGETS + ["tab.example"])
    assert next(e for e in entries if e["target"] == "tab.example")["countries"] == ["IT\tKR"]
    lines = builder.cached_feed("csv")[2].decode().splitlines()
    assert "tab.example,domain,IT\tKR,other," in "\n".join(lines)


def test_a_streamed_gzip_twin_is_one_valid_member(listed):
    """The JSON head is written in place after the body (the checksum comes last): the gzip twin
    must still be a single member whose CRC and length cover the head."""
    import zlib

    for fmt in builder.FORMATS:
        plain = builder.cached_feed(fmt)[2]
        inflate = zlib.decompressobj(31)
        assert inflate.decompress(builder.cached_feed(fmt, gzipped=True)[2]) == plain
        assert inflate.eof and inflate.unused_data == b""


def test_crc32_combine_matches_zlib():
    import random
    import zlib

    from sitealert.feed.cache import crc32_combine

    rng = random.Random(14)
    for length in (0, 1, 2, 3, 7, 8, 100, 4096, 100_000):
        head, body = rng.randbytes(rng.randint(0, 200)), rng.randbytes(length)
        assert crc32_combine(zlib.crc32(head), zlib.crc32(body), len(body)) == zlib.crc32(head + body)


def test_read_ahead_hands_on_errors_and_stops_its_thread():
    import threading

    batches = iter([[1], [2], ValueError("broken")])

    def fetch():
        batch = next(batches)
        if isinstance(batch, Exception):
            raise batch
        return batch

    seen = []
    with pytest.raises(ValueError, match="broken"):
        for batch in builder._read_ahead(fetch):
            seen.append(batch)
    assert seen == [[1], [2]]

    endless = builder._read_ahead(lambda: [0])
    assert next(endless) == [0]
    endless.close()
    assert not [t for t in threading.enumerate() if t.name == "feed-read-ahead"]
