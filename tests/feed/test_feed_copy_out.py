"""A cold build on PostgreSQL renders a binary COPY in C (`copy_out`): the bytes must be those of
the rows read through psycopg and rendered in Python, for every format, whatever the targets,
attributes and dates, across chunks and when the kept renderings are dropped. On SQLite the
builder reads rows through the driver, and these tests hold that path to the same documents."""

import gzip
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from sitealert.feed import builder, copy_out, render
from sitealert.feed.models import FeedEntry, FeedState, new_epoch

pytestmark = pytest.mark.django_db

COUNTRIES = ["AR", "BR", "CN", "ES", "FR", "IT", "KR", "RU"]
CATEGORIES = ["cyberlocker", "live-sports-iptv", "other", "publishing", "software-games", "streaming-music",
              "streaming-video", "torrent-index"]


def varied_entries(n=3_000, seed=20261206):
    """Domains, IDN A-labels, subdomains, apps of both stores, many sets of countries and
    categories, dates before and after 2000 with and without fractions of a second."""
    rng = random.Random(seed)
    entries = {}
    start = datetime(1999, 12, 31, 23, 59, 58, tzinfo=UTC)
    for i in range(n):
        shape = i % 6
        if shape == 0:
            target = f"android:org.example{i}.App_{i % 7}"
        elif shape == 1:
            target = f"ios:{100000000 + i}"
        elif shape == 2:
            target = f"xn--bcher-kva{i}.xn--p1ai"
        elif shape == 3:
            target = f"cdn{i % 9}.site-{i}.example"
        else:
            target = f"w{rng.randrange(10**9)}.test"
        countries = ",".join(sorted(rng.sample(COUNTRIES, rng.randint(0, 8))))
        categories = ",".join(sorted(rng.sample(CATEGORIES, rng.randint(1, 8))))
        first = start + timedelta(seconds=rng.randrange(400_000_000), microseconds=rng.choice([0, 1, 999_999, 500_000]))
        entries[target] = ("app" if target.startswith(("android:", "ios:")) else "domain", countries, categories, first)
    return [(target, *rest) for target, rest in entries.items()]


def publish(entries, version=7):
    FeedEntry.objects.all().delete()
    FeedEntry.objects.bulk_create(
        [FeedEntry(target=t, kind=k, countries=c, categories=cat, first_listed_at=first, version=version)
         for t, k, c, cat, first in entries], batch_size=2_000)
    # A new epoch: nothing cached to splice from, each document is built from scratch.
    FeedState.objects.update_or_create(pk=1, defaults={"version": version, "epoch": new_epoch()})


@pytest.fixture
def copies(monkeypatch):
    """Counts the builds rendered from a binary COPY."""
    calls = []
    original = copy_out.rendered

    def counting(sql, parts):
        calls.append(sql)
        return original(sql, parts)

    monkeypatch.setattr(copy_out, "rendered", counting)
    return calls


def build_both_ways(fmt, monkeypatch, entries):
    """(document, gzip twin decompressed, checksum) built from scratch with the C renderer where
    the database allows it, then through psycopg's rows and Python; each from a new epoch."""
    results = []
    for through_driver in (False, True):
        publish(entries)
        with monkeypatch.context() as patch:
            if through_driver:
                patch.setattr(copy_out, "available", lambda: False)
            version, checksum, packed = builder.cached_feed(fmt, gzipped=True)
            plain = builder.cached_feed(fmt)[2]
            txt = builder.cached_feed("txt")[2]
        results.append((plain, gzip.decompress(packed), checksum, txt))
    return results


def expect_copied(copies, count):
    """The C renderer ran on PostgreSQL (unless SITEALERT_PURE_PYTHON rules it out), never on SQLite."""
    copied = connection.vendor == "postgresql" and copy_out.ACCELERATED
    assert copy_out.available() is copied
    assert len(copies) == (count if copied else 0)


@pytest.mark.parametrize("fmt", sorted(builder.FORMATS))
def test_the_c_renderer_writes_the_bytes_of_the_python_path(fmt, monkeypatch, copies):
    entries = varied_entries()
    copied, driven = build_both_ways(fmt, monkeypatch, entries)
    assert copied == driven
    assert copied[0] == copied[1]
    assert copied[3] == "".join(sorted(t + "\n" for t, *_ in entries)).encode()
    expect_copied(copies, 1)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_small_chunks_and_few_kept_renderings_change_nothing(fmt, monkeypatch, copies):
    """A chunk ends after every few records (the last record's end is trimmed in the last one), and
    the renderings kept per attribute set and date are dropped again and again."""
    monkeypatch.setattr(copy_out, "CHUNK_BYTES", 100)
    monkeypatch.setattr(render._Memo, "limit", 3)
    copied, driven = build_both_ways(fmt, monkeypatch, varied_entries(500, seed=7))
    assert copied == driven
    expect_copied(copies, 1)


@pytest.mark.parametrize("fmt", sorted(builder.FORMATS))
def test_targets_that_are_not_canonical_are_escaped_or_quoted_as_before(fmt, monkeypatch, copies):
    """Targets the normalizer would never write still come out as the Python path writes them:
    Unicode and escapes in JSON; in csv a target that needs quoting sends the whole document
    through the csv module (the COPY read so far is drained and the transaction goes on)."""
    entries = varied_entries(300) + [
        ("bücher.example", "domain", "IT", "publishing", datetime(2024, 2, 29, 12, 0, tzinfo=UTC)),
        ("例え.テスト", "domain", "CN,KR", "other", datetime(2024, 2, 29, 12, 0, 1, tzinfo=UTC)),
        ('quote"d.example', "domain", "FR", "other", datetime(2001, 1, 1, tzinfo=UTC)),
        ("back\\slash.example", "domain", "FR", "other", datetime(2001, 1, 1, tzinfo=UTC)),
        ("comma,d.example", "domain", "ES", "other", datetime(2001, 1, 1, tzinfo=UTC)),
    ]
    copied, driven = build_both_ways(fmt, monkeypatch, entries)
    assert copied == driven
    assert copied[0] == copied[1]
    expect_copied(copies, 1)


def test_attributes_holding_a_tab_are_fetched_apart_as_before(monkeypatch, copies):
    entries = varied_entries(200) + [("tab.example", "domain", "IT\tKR", "other", datetime(2024, 1, 1, tzinfo=UTC))]
    copied, driven = build_both_ways("json", monkeypatch, entries)
    assert copied == driven
    assert b'"countries":["IT\\tKR"]' in copied[0]
    expect_copied(copies, 1)


@pytest.mark.parametrize("fmt", sorted(builder.FORMATS))
def test_an_empty_list(fmt, monkeypatch, copies):
    copied, driven = build_both_ways(fmt, monkeypatch, [])
    assert copied == driven
    assert copied[0] == {"json": b'{"version":7,"checksum":"sha256:' + copied[2][7:].encode() + b'","entries":[]}',
                         "csv": render.CSV_HEADER.encode(), "txt": b""}[fmt]
    expect_copied(copies, 1)


def test_a_timestamp_in_binary_renders_as_its_text():
    """PostgreSQL's binary timestamp (microseconds since 2000-01-01 UTC) gives what the text the
    other path reads gives."""
    for moment in (datetime(2000, 1, 1), datetime(1999, 12, 31, 23, 59, 59, 999_999), datetime(2024, 2, 29, 1, 2, 3),
                   datetime(1970, 1, 1), datetime(2099, 12, 31, 23, 59, 59, 1)):
        micros = (moment - datetime(2000, 1, 1)) // timedelta(microseconds=1)
        raw = micros.to_bytes(8, "big", signed=True)
        assert render.iso_from_pg_binary(raw) == render.iso_from_db(moment.isoformat(" "))
