"""Time the feed documents against a bare query of the same rows, in the same run.

    .venv/bin/python benchmarks/bench_feed.py [--rows 1000000] [--changes 10000] [--repeat 3]
                                              [--database-url postgresql://…]
    .venv/bin/python benchmarks/bench_feed.py --cold [--rows 10000000] [--compare /tmp/old-build | --compare-pure]
                                              [--database-url postgresql://…]

--cold: cold builds only. Fills the aggregated list with ROWS entries with a few SQL statements,
then builds each format (json, txt, csv, each plain and with its gzip twin) from an empty cache
in a fresh process, and reports its time, its CPU time (the process's, and in parentheses that of
the PostgreSQL server process serving it, read from /proc when the server runs on this machine:
they move less than the wall time on a shared machine), its peak RSS (ru_maxrss, with the same
process's RSS after start-up for reference) and the SHA-256 of the document. With --compare, the
same builds run with the code of another checkout (a `git worktree add /tmp/old-build <commit>`)
on the same data, alternating with this one's, and the table gives the ratios this/other and
checks that both wrote the same bytes. Each checkout reads a database of its own, created by its
own migrations (so with its own indexes: a temporary database on the same server, or a SQLite
file of its own) and filled by the same statements. With --compare-pure the other is this code
under SITEALERT_PURE_PYTHON=1 (rows read through psycopg, not rendered in C), on the same database.

Without --cold:
it fills the aggregated list with N synthetic entries (names under .example and .test, a few apps)
with one bulk insert, in a temporary SQLite database — or, given --database-url, in a temporary
database created on that PostgreSQL server and dropped afterwards. It builds that version's
documents (what a running server holds), then applies CHANGES changes (half removals, half
additions) with their change-log rows, and measures at the new version:

- full feed, cold: no cached document, so the whole build (query, rendering, sort, checksum,
  files) is timed; "+gzip" also writes the compressed twin, as the first gzip-accepting client does;
- full feed, previous version cached: the new version is spliced into the previous documents;
- full feed, warm: this version's document is on disk;
- the changes since the previous version, with no document cached (the checksum needs every
  target), with the previous txt document cached (spliced), and with this version's checksum cached;
- the same through HTTP (GET /api/v1/feed, /api/v1/feed/changes) with a bearer token.

Each is the best of --repeat runs, reported with its ratio to a baseline measured in the same run:
for full feeds `SELECT target … ORDER BY target` plus `json.dumps` of those targets; for the delta
a bare `SELECT` of the same change rows plus `json.dumps` of them. Before timing, the run checks
the JSON document and the delta against a checksum computed independently with hashlib.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = ["films", "series", "live", "sport", "music", "anime", "books", "games", "stream", "watch"]
COUNTRIES = ["IT", "KR", "BR", "FR", "IT,KR", "BR,FR,IT"]
CATEGORIES = ["streaming-video", "streaming-music", "live-sports-iptv", "torrent-index", "cyberlocker",
              "publishing", "software-games", "other", "cyberlocker,streaming-video"]


def target(i):
    if i % 50 == 49:
        return f"android:org.{WORDS[i % 10]}.app{i}" if i % 100 == 99 else f"ios:{100000000 + i}"
    host = f"{WORDS[i % 10]}{i}.{'example' if i % 2 else 'test'}"
    return f"cdn{i % 7}.{host}" if i % 5 == 3 else host


def kind(t):
    return "app" if t.startswith(("android:", "ios:")) else "domain"


class TemporaryPostgres:
    """A database of its own on the given server, dropped on exit."""

    def __init__(self, url):
        self.url = urlparse(url)
        self.name = "sitealert_bench_" + uuid.uuid4().hex[:8]

    def _admin(self, sql):
        import psycopg

        with psycopg.connect(urlunparse(self.url), autocommit=True) as conn:
            conn.execute(sql)

    def __enter__(self):
        self._admin(f'CREATE DATABASE "{self.name}"')
        return urlunparse(self.url._replace(path="/" + self.name))

    def __exit__(self, *exc):
        from django.db import connections

        connections.close_all()
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}"')


def setup(data_dir, database_url):
    os.environ["SITEALERT_DATA_DIR"] = data_dir
    os.environ["SITEALERT_ALLOWED_HOSTS"] = "testserver"
    os.environ["SITEALERT_API_RATE"] = "1000000"
    if database_url:
        os.environ["SITEALERT_DATABASE_URL"] = database_url
    else:
        os.environ.pop("SITEALERT_DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "sitealert.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)


def fill(n, changes):
    """The list at version N-CHANGES: entries, and a change log that added each once."""
    from django.db import transaction

    from sitealert.core import bulk
    from sitealert.feed.models import FeedState

    start = datetime(2024, 1, 1, tzinfo=UTC)
    added = changes // 2
    entries, log = [], []
    for i in range(n - added + (changes - added)):
        t = target(i)
        first = bulk.db_datetime(start + timedelta(minutes=i // 100))
        entries.append((t, kind(t), COUNTRIES[i % 6], CATEGORIES[i % 9], first, i + 1))
        log.append((i + 1, t, kind(t), True, COUNTRIES[i % 6], CATEGORIES[i % 9], first, first))
    with transaction.atomic():
        bulk.insert_rows("feed_feedentry", ENTRY_COLUMNS, entries)
        bulk.insert_rows("feed_change", CHANGE_COLUMNS, log)
        FeedState.objects.update_or_create(pk=1, defaults={"version": len(log)})
    return len(log)


def apply_delta(n, changes, since):
    """CHANGES changes: remove changes/2 entries, add as many new ones; returns the new version."""
    from django.db import transaction

    from sitealert.core import bulk
    from sitealert.feed.models import FeedEntry, FeedState

    added = changes // 2
    old = n - added
    now = bulk.db_datetime(datetime.now(UTC))
    removed = [target(i) for i in range(old, old + changes - added)]
    log, entries, seq = [], [], since
    for t in removed:
        seq += 1
        log.append((seq, t, kind(t), False, "", "", None, now))
    for i in range(old + len(removed), old + len(removed) + added):
        seq += 1
        t = target(i)
        log.append((seq, t, kind(t), True, COUNTRIES[i % 6], CATEGORIES[i % 9], now, now))
        entries.append((t, kind(t), COUNTRIES[i % 6], CATEGORIES[i % 9], now, seq))
    with transaction.atomic():
        for start in range(0, len(removed), 500):
            FeedEntry.objects.filter(target__in=removed[start:start + 500]).delete()
        bulk.insert_rows("feed_feedentry", ENTRY_COLUMNS, entries)
        bulk.insert_rows("feed_change", CHANGE_COLUMNS, log)
        FeedState.objects.filter(pk=1).update(version=seq)
    return seq


ENTRY_COLUMNS = ["target", "kind", "countries", "categories", "first_listed_at", "version"]
CHANGE_COLUMNS = ["seq", "target", "kind", "listed", "countries", "categories", "first_listed_at", "created_at"]


def best(fn, repeat, before=None):
    times = []
    for _ in range(repeat):
        if before:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", "--n", dest="n", type=int, default=1_000_000, help="entries in the aggregated list")
    parser.add_argument("--changes", type=int, default=10_000, help="changes in the delta")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (default: temporary SQLite)")
    parser.add_argument("--cold", action="store_true", help="cold builds per format: time and peak RSS")
    parser.add_argument("--compare", metavar="CHECKOUT", help="with --cold: also build with another checkout's code")
    parser.add_argument("--compare-pure", action="store_true",
                        help="with --cold: also build with this code under SITEALERT_PURE_PYTHON=1 (rows through "
                             "psycopg instead of the C renderer), on the same database")
    args = parser.parse_args()
    work = cold if args.cold else run
    in_temporary_database(args.database_url, lambda data_dir, url: work(args, data_dir, url))


def in_temporary_database(database_url, work):
    """work(data_dir, database_url) with a temporary data directory and, given a PostgreSQL server,
    a temporary database of its own on it (else the data directory's SQLite file); both go afterwards."""
    data_dir = tempfile.mkdtemp(prefix="sitealert-bench-")
    try:
        if database_url:
            with TemporaryPostgres(database_url) as url:
                work(data_dir, url)
        else:
            work(data_dir, "")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def run(args, data_dir, database_url):
    setup(data_dir, database_url)
    import hashlib

    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from sitealert.core.actors import Actor
    from sitealert.feed import builder
    from sitealert.organizations.services import create_organization, issue_token

    started = time.perf_counter()
    since = fill(args.n, args.changes)
    fill_time = time.perf_counter() - started
    cache_dir = settings.SITEALERT["FEED_CACHE_DIR"]
    previous = os.path.join(data_dir, "previous-version")
    for fmt in builder.FORMATS:  # the documents a running server holds from the last version
        builder.open_feed(fmt).file.close()
    shutil.copytree(cache_dir, previous)
    version = apply_delta(args.n, args.changes, since)
    count = args.n

    def cold():
        shutil.rmtree(cache_dir, ignore_errors=True)

    def previous_only():
        shutil.rmtree(cache_dir, ignore_errors=True)
        shutil.copytree(previous, cache_dir)

    order = 'target COLLATE "C"' if connection.vendor == "postgresql" else "target"

    def baseline_full():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT target FROM feed_feedentry ORDER BY {order}")
            json.dumps([t for (t,) in cursor.fetchall()])

    def baseline_delta():
        with connection.cursor() as cursor:
            cursor.execute("SELECT target, kind, listed, countries, categories, first_listed_at FROM feed_change "
                           "WHERE seq > %s ORDER BY seq", [since])
            json.dumps([list(row) for row in cursor.fetchall()], default=str)

    def feed(fmt, gzipped=False):
        return lambda: builder.open_feed(fmt, gzipped).file.close()

    def feed_read(fmt):
        def read():
            with builder.open_feed(fmt).file as f:
                f.read()
        return read

    def delta():
        json.dumps(builder.changes_since(since))

    # Correctness first: the document agrees with an independent checksum of the entries.
    with connection.cursor() as cursor:
        cursor.execute("SELECT target FROM feed_feedentry")
        expected = "sha256:" + hashlib.sha256("".join(t + "\n" for t in sorted(t for (t,) in cursor.fetchall()))
                                               .encode()).hexdigest()
    cold()
    _, checksum, body = builder.cached_feed("json")
    document = json.loads(body)
    assert checksum == expected == document["checksum"], (checksum, expected)
    assert document["version"] == version and len(document["entries"]) == count
    changes = builder.changes_since(since)
    assert len(changes["changes"]) == args.changes and changes["checksum"] == expected
    del document, body

    org = create_organization(kind="user", name="Benchmark Ads", actor=Actor(via="cli"))
    _, secret = issue_token(org, actor=Actor(via="cli"))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def http(path, **headers):
        def get():
            response = client.get(path, **headers)
            assert response.status_code == 200, response.status_code
            b"".join(response.streaming_content) if response.streaming else response.content
        return get

    r = args.repeat
    full_base = best(baseline_full, r)
    delta_base = best(baseline_delta, r)
    rows = [
        ("baseline: SELECT target ORDER BY + json.dumps", full_base, full_base),
        ("full json, cold", best(feed("json"), r, cold), full_base),
        ("full json, cold, +gzip", best(feed("json", True), r, cold), full_base),
        ("full json, previous version cached", best(feed("json"), r, previous_only), full_base),
        ("full json, previous version cached, +gzip", best(feed("json", True), r, previous_only), full_base),
        ("full json, warm (open + read)", best(feed_read("json"), r), full_base),
        ("full txt, cold", best(feed("txt"), r, cold), full_base),
        ("full txt, warm (open + read)", best(feed_read("txt"), r), full_base),
        ("full csv, cold", best(feed("csv"), r, cold), full_base),
        ("full csv, previous version cached", best(feed("csv"), r, previous_only), full_base),
        ("GET /api/v1/feed, cold", best(http("/api/v1/feed"), r, cold), full_base),
        ("GET /api/v1/feed gzip, previous version cached", best(http("/api/v1/feed", HTTP_ACCEPT_ENCODING="gzip"),
                                                                r, previous_only), full_base),
        ("GET /api/v1/feed, warm", best(http("/api/v1/feed"), r), full_base),
        ("GET /api/v1/feed gzip, warm", best(http("/api/v1/feed", HTTP_ACCEPT_ENCODING="gzip"), r), full_base),
        (f"baseline: SELECT {args.changes:,} changes + json.dumps", delta_base, delta_base),
        (f"changes since N ({args.changes:,}), nothing cached", best(delta, r, cold), delta_base),
        (f"changes since N ({args.changes:,}), previous txt cached", best(delta, r, previous_only), delta_base),
        (f"changes since N ({args.changes:,}), checksum cached", best(delta, r), delta_base),
        ("GET /api/v1/feed/changes, warm", best(http(f"/api/v1/feed/changes?since={since}"), r), delta_base),
    ]
    print(f"database: {connection.vendor}; entries: {count:,}; version: {version:,}; delta: {args.changes:,} "
          f"changes; best of {r}; fill: {fill_time:.1f} s; cpus: {os.cpu_count()}")
    print(f"| {'measurement':<52} | {'seconds':>8} | {'x baseline':>10} |")
    print(f"|{'-' * 54}|{'-' * 10}:|{'-' * 11}:|")
    for label, seconds, base in rows:
        print(f"| {label:<52} | {seconds:8.3f} | {seconds / base:10.2f} |")


# --- Cold builds, one fresh process each ----------------------------------------------------------

def _sql_target(vendor):
    """target(i) in SQL, for a column i."""
    word = "CASE i % 10 " + " ".join(f"WHEN {n} THEN '{w}'" for n, w in enumerate(WORDS)) + " END"
    return (f"CASE WHEN i % 50 = 49 THEN (CASE WHEN i % 100 = 99 THEN 'android:org.' || {word} || '.app' || i "
            "ELSE 'ios:' || (100000000 + i) END) "
            "ELSE (CASE WHEN i % 5 = 3 THEN 'cdn' || (i % 7) || '.' ELSE '' END) || " + word
            + " || i || (CASE WHEN i % 2 = 1 THEN '.example' ELSE '.test' END) END")


def fill_statements(vendor, n):
    """The SQL that writes the same list as fill(n, 0): entries, a change log that added each once,
    the version; on a migrated database of either vendor, whatever code migrated it."""

    def pick(values, modulo):
        return f"CASE i % {modulo} " + " ".join(f"WHEN {k} THEN '{v}'" for k, v in enumerate(values)) + " END"

    if vendor == "postgresql":
        numbers = f"generate_series(0, {n - 1}) AS s(i)"
        first = "TIMESTAMPTZ '2024-01-01 00:00:00+00' + (i / 100) * INTERVAL '1 minute'"
        prefix = ""
    else:
        numbers = "s"
        first = "datetime('2024-01-01 00:00:00', '+' || (i / 100) || ' minutes')"
        prefix = f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {n - 1}) "
    return [
        "INSERT INTO feed_feedentry (target, kind, countries, categories, first_listed_at, version) "
        f"{prefix}SELECT t, CASE WHEN i % 50 = 49 THEN 'app' ELSE 'domain' END, {pick(COUNTRIES, 6)}, "
        f"{pick(CATEGORIES, 9)}, {first}, i + 1 FROM (SELECT i, {_sql_target(vendor)} AS t "
        f"FROM {numbers}) AS numbered",
        "INSERT INTO feed_change (seq, target, kind, listed, countries, categories, first_listed_at, "
        "created_at) SELECT version, target, kind, TRUE, countries, categories, first_listed_at, "
        "first_listed_at FROM feed_feedentry",
        "INSERT INTO feed_feedstate (id, version, pruned_through, epoch) "
        f"VALUES (1, {n}, 0, '{uuid.uuid4().hex[:16]}') ON CONFLICT (id) DO UPDATE SET version = {n}",
        "VACUUM ANALYZE" if vendor == "postgresql" else "ANALYZE",
    ]


def fill_sql(n):
    """The same list as fill(n, 0), written by the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in fill_statements(connection.vendor, n):
            cursor.execute(sql)


# Migrates the database given by the environment with the code of the checkout argv[1], then runs
# the statements in argv[2] (a JSON list): the other checkout's own database, as its code makes it.
CHILD_FILL = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", interactive=False, verbosity=0)
call_command("createcachetable", verbosity=0)
with connection.cursor() as cursor:
    for sql in json.loads(sys.argv[2]):
        cursor.execute(sql)
"""


CHILD = r"""
import hashlib, json, os, resource, sys, time, zlib
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from django.db import connection
from sitealert.feed import builder
fmt, gzipped = sys.argv[2], sys.argv[3] == "gz"
builder.feed_state()
backend = None
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

def server_cpu():  # the server process of this connection, if it runs on this machine
    try:
        fields = open(f"/proc/{backend}/stat").read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

started_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
server, cpu, start = server_cpu(), time.process_time(), time.perf_counter()
document = builder.open_feed(fmt, gzipped)
seconds = time.perf_counter() - start
cpu, server = time.process_time() - cpu, server_cpu() - server
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
digest, inflate = hashlib.sha256(), zlib.decompressobj(31)
with document.file as f:
    while block := f.read(1 << 22):
        digest.update(inflate.decompress(block) if gzipped else block)
print(json.dumps({"seconds": seconds, "cpu": cpu, "server_cpu": server, "rss_mb": rss / 1024,
                  "started_mb": started_rss / 1024, "bytes": document.size, "sha256": digest.hexdigest()[:16]}))
"""


def cold(args, data_dir, database_url):
    import subprocess

    setup(data_dir, database_url)
    from django.db import connection, connections

    started = time.perf_counter()
    fill_sql(args.n)
    fill_time = time.perf_counter() - started
    vendor = connection.vendor
    connections.close_all()
    this = {"code": str(Path(__file__).resolve().parent.parent), "env": {}}
    with ExitStack() as stack:
        checkouts = {"this": this}
        if args.compare:
            # A database of its own, which the other checkout's migrations create (its indexes).
            other_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sitealert-bench-other-"))
            env = {"SITEALERT_DATA_DIR": other_dir}
            if database_url:
                env["SITEALERT_DATABASE_URL"] = stack.enter_context(TemporaryPostgres(database_url))
            other = {"code": str(Path(args.compare).resolve()), "env": env}
            subprocess.run([sys.executable, "-c", CHILD_FILL, other["code"],
                            json.dumps(fill_statements(vendor, args.n))], env={**os.environ, **env}, check=True)
            checkouts = {"other": other, "this": this}
        elif args.compare_pure:
            checkouts = {"other": {"code": this["code"], "env": {"SITEALERT_PURE_PYTHON": "1"}}, "this": this}
        _cold_builds(args, data_dir, vendor, fill_time, checkouts)


def _cold_builds(args, data_dir, vendor, fill_time, checkouts):
    import subprocess

    def build(checkout, fmt, gzipped, run):
        env = {**os.environ, **checkout["env"],
               "SITEALERT_FEED_CACHE_DIR": os.path.join(data_dir, f"cache-{run}")}
        out = subprocess.run([sys.executable, "-c", CHILD, checkout["code"], fmt, "gz" if gzipped else "plain"],
                             env=env, check=True, capture_output=True, text=True).stdout
        shutil.rmtree(env["SITEALERT_FEED_CACHE_DIR"], ignore_errors=True)
        return json.loads(out.strip().splitlines()[-1])

    print(f"database: {vendor}; entries: {args.n:,}; fill: {fill_time:.1f} s; cpus: {os.cpu_count()}; "
          f"one fresh process per build, best of {args.repeat}")
    head = "| format | " + " | ".join(f"{name} s | {name} CPU s (server) | {name} peak RSS MB" for name in checkouts)
    compared = len(checkouts) > 1
    print(head + (" | time this/other | RSS this/other | same bytes |" if compared else " |"))
    print("|" + "---|" * (1 + 3 * len(checkouts) + (3 if compared else 0)))
    run = 0
    for fmt in ("json", "txt", "csv"):
        for gzipped in (False, True):
            results = {}
            for _ in range(args.repeat):
                for name, checkout in checkouts.items():
                    run += 1
                    result = build(checkout, fmt, gzipped, run)
                    if name not in results or result["seconds"] < results[name]["seconds"]:
                        results[name] = result
            cells = [f"{r['seconds']:.2f} | {r['cpu']:.2f} ({r['server_cpu']:.2f}) | "
                     f"{r['rss_mb']:.0f} (start {r['started_mb']:.0f})" for r in results.values()]
            line = f"| {fmt}{' + gzip' if gzipped else ''} | " + " | ".join(cells) + " |"
            if compared:
                this, other = results["this"], results["other"]
                line += (f" {this['seconds'] / other['seconds']:.2f} | {this['rss_mb'] / other['rss_mb']:.2f} | "
                         f"{'yes' if this['sha256'] == other['sha256'] else 'NO'} |")
            print(line, flush=True)


if __name__ == "__main__":
    main()
