"""A version's documents built from scratch: the same bytes on SQLite and PostgreSQL, read in the
documents' order without sorting the table, in memory that does not grow with the list."""

import gzip
import hashlib
import json
import re
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from sitealert.feed import builder, render
from sitealert.feed.models import FeedEntry, FeedState, new_epoch

pytestmark = pytest.mark.django_db

# In code-point order, which is neither a case-insensitive order nor one that skips punctuation
# (the order of most database collations): "-" < "." < digits < ":" < upper case < lower case.
ENTRIES = [
    ("a-b.example", "domain", "IT", "streaming-video", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("a.example", "domain", "IT,KR", "cyberlocker,streaming-video", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("ab.example", "domain", "", "", datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ("android:com.Example.App", "app", "BR", "software-games", datetime(2024, 6, 1, tzinfo=UTC)),
    ("android:com.example.app", "app", "BR,FR", "other", datetime(2024, 6, 1, tzinfo=UTC)),
    ("b.example", "domain", "FR", "torrent-index", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("ios:42", "app", "KR", "other", datetime(2025, 2, 28, 12, 0, 0, 500000, tzinfo=UTC)),
    ("xn--bcher-kva.example", "domain", "IT", "publishing", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("z9.test", "domain", "FR,IT", "live-sports-iptv", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
]
VERSION = 41


def publish(entries, version=VERSION):
    """The aggregated list as exactly these entries, written as the database keeps them."""
    FeedEntry.objects.bulk_create(
        [FeedEntry(target=t, kind=k, countries=c, categories=cat, first_listed_at=first, version=version)
         for t, k, c, cat, first in reversed(entries)], batch_size=5_000)
    # A new epoch: nothing cached to splice from, every document is built from scratch.
    FeedState.objects.update_or_create(pk=1, defaults={"version": version, "epoch": new_epoch()})


def expected(fmt):
    """The document written out the plain way, independently of the builder and the database."""
    checksum = "sha256:" + hashlib.sha256("".join(t + "\n" for t, *_ in ENTRIES).encode()).hexdigest()
    if fmt == "txt":
        return "".join(t + "\n" for t, *_ in ENTRIES).encode()
    if fmt == "csv":
        return ("target,kind,countries,categories,first_listed_at\n" + "".join(
            f"{t},{k},{c.replace(',', ' ')},{cat.replace(',', ' ')},{first:%Y-%m-%dT%H:%M:%SZ}\n"
            for t, k, c, cat, first in ENTRIES)).encode()
    entries = [{"target": t, "kind": k, "countries": c.split(",") if c else [],
                "categories": cat.split(",") if cat else [], "first_listed_at": f"{first:%Y-%m-%dT%H:%M:%SZ}"}
               for t, k, c, cat, first in ENTRIES]
    return json.dumps({"version": VERSION, "checksum": checksum, "entries": entries}, separators=(",", ":"),
                      ensure_ascii=False).encode()


@pytest.mark.parametrize("fmt", sorted(builder.FORMATS))
def test_a_document_built_from_scratch_has_the_same_bytes_on_every_database(fmt):
    """Both databases run this test against the same literal documents, so the two write the
    same bytes, in code-point order whatever the database's collation; the gzip twin too."""
    publish(ENTRIES)
    packed = builder.cached_feed(fmt, gzipped=True)
    assert packed[:2] == (VERSION, "sha256:" + hashlib.sha256(expected("txt")).hexdigest())
    assert gzip.decompress(packed[2]) == expected(fmt)
    assert builder.cached_feed(fmt)[2] == expected(fmt)
    assert builder.cached_feed("txt")[2] == expected("txt")


def test_a_build_reads_the_entries_in_order_from_the_primary_key_on_postgresql():
    """A build from scratch on PostgreSQL must not sort the table (at ten million entries the sort spilled to
    disk and took most of a cold build): the primary key is in code-point order and holds every
    column a document reads, so with sorting forbidden the build's query is still planned, as an
    index-only scan."""
    publish(ENTRIES)
    with CaptureQueriesContext(connection) as queries:
        builder.cached_feed("json")
    (sql,) = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"] and "feed_feedentry" in q["sql"]]
    sql = re.sub(r"^COPY \((.*)\) TO STDOUT .*$", r"\1", sql)  # PostgreSQL's, rendered in C (copy_out)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
        # SQLite compares text in BINARY (code-point) order already, and its sorter beats walking
        # the primary key's index for json and csv: one scan of the table, sorted as it goes.
        assert "SCAN feed_feedentry" in plan and "USE TEMP B-TREE FOR ORDER BY" in plan, plan
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using feed_feedentry_pkey" in plan and "Sort" not in plan, plan


def _build_peak(n, first_listed):
    FeedEntry.objects.all().delete()
    publish([(f"site{i:06d}.example", "domain", "IT", "other", first_listed + timedelta(seconds=i))
             for i in range(n)], version=n)
    tracemalloc.start()
    try:
        # Writes the JSON document, its gzip twin and the txt document, and opens the twin.
        builder.open_feed("json", gzipped=True).file.close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_build_from_scratch_holds_a_few_chunks_whatever_the_size_of_the_list(monkeypatch):
    """Rows stream from the database a batch at a time and each chunk is written at once, and the
    renderings kept for reuse are bounded: five times the entries (every one first listed at a
    different time) must not take more memory to build."""
    monkeypatch.setattr(builder, "FETCH_ROWS", 500)
    monkeypatch.setattr(builder, "CHUNK_ROWS", 100)
    monkeypatch.setattr(render._Memo, "limit", 1_000)
    first_listed = datetime(2024, 1, 1, tzinfo=UTC)
    _build_peak(4_000, first_listed)  # what the first build allocates once
    small, large = _build_peak(4_000, first_listed), _build_peak(20_000, first_listed)
    assert large < 1.5 * small + (256 << 10), (small, large)
