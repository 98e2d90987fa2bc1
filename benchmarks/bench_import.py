"""Import a synthetic CSV end to end and compare with a bare bulk insert of the same rows.

    .venv/bin/python benchmarks/bench_import.py [--rows 1000000] [--database-url postgresql://…]

End to end means what `sitealert import` does: decode, parse, normalize every target, validate,
write listings, the audit event (and its items), the change log and the aggregated list, in one
transaction. Then the same file again (nothing changes), and the median time of a one-row
submission (the web form) into the database that now holds the million listings. The
baseline, measured in the same run on the same database, inserts the same rows with a single
executemany/COPY into a bare table with the listing table's columns and no indexes or checks.

    .venv/bin/python benchmarks/bench_import.py --rows 700000 --prefill 9300000 [--files 1] [--database-url …]

A growing table: the baseline, then a first file into the empty table, then the table filled by
SQL to --prefill listings (one contributor per --rows, as imports of the same synthetic files
would leave them: `--check-prefill` compares the two), then --files more files, each from an
authority of its own with targets that interleave with the listed ones in sort order. Every file
is timed; the last one is compared with the first and with the baseline. `--slow-statements S`
prints each SQL statement that takes longer than S seconds.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORDS = ["films", "series", "live", "sport", "music", "anime", "books", "games", "stream", "watch"]
TLDS = ["example", "test"]
CATEGORIES = ["streaming-video", "streaming-music", "live-sports-iptv", "torrent-index", "cyberlocker",
              "publishing", "software-games", "other"]


def synthetic_csv(rows, start=0):
    """A realistic mix: bare hosts, mixed case, URLs with paths, www prefixes, subdomains (rows start.. distinct).

    Row i of every file is numbered from `start`, so files with disjoint ranges list disjoint
    targets whose names interleave in sort order (films12.example, films1200000.example…).
    """
    lines = ["target,category,reference,note"]
    for i in range(start, start + rows):
        word = WORDS[i % len(WORDS)]
        host = f"{word}{i}.{TLDS[i % 2]}"
        shape = i % 5
        if shape == 1:
            host = f"https://www.{host}/watch?v={i}"
        elif shape == 2:
            host = host.upper()
        elif shape == 3:
            host = f"cdn{i % 7}.{host}"
        lines.append(f"{host},{CATEGORIES[i % len(CATEGORIES)]},DEC-{i // 1000}/2026,")
    return ("\n".join(lines) + "\n").encode()


def synthetic_target(i):
    """The canonical target of synthetic row i, for i a multiple of 5 (those rows are bare hosts)."""
    assert i % 5 == 0, i
    return f"{WORDS[i % len(WORDS)]}{i}.{TLDS[i % 2]}"


def setup(database_url):
    data_dir = tempfile.mkdtemp(prefix="sitealert-bench-")
    os.environ["SITEALERT_DATA_DIR"] = data_dir
    if database_url:
        os.environ["SITEALERT_DATABASE_URL"] = database_url
    else:
        os.environ.pop("SITEALERT_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitealert.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0) if database_url else None
    call_command("migrate", interactive=False, verbosity=0)


def bare_insert(rows):
    """The floor: the same rows into a bare table with one executemany (COPY on PostgreSQL)."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_bare")
        cursor.execute("CREATE TABLE bench_bare (target varchar(300), kind varchar(10), contributor_id bigint, "
                       "category varchar(30), reference varchar(200), note text, status varchar(10))")
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy("COPY bench_bare FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany("INSERT INTO bench_bare VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_bare")
    return elapsed


# The targets, categories and references `synthetic_csv` rows normalize to, as SQL over a column i.
_SQL_HOST = ("(CASE i %% 10 " + " ".join(f"WHEN {n} THEN '{w}'" for n, w in enumerate(WORDS)) + " END"
             " || i || '.' || CASE i %% 2 WHEN 0 THEN 'example' ELSE 'test' END)")
SQL_TARGET = (f"CASE i %% 5 WHEN 1 THEN 'www.' || {_SQL_HOST} WHEN 3 THEN 'cdn' || (i %% 7) || '.' || {_SQL_HOST} "
              f"ELSE {_SQL_HOST} END")
SQL_CATEGORY = "CASE i %% 8 " + " ".join(f"WHEN {n} THEN '{c}'" for n, c in enumerate(CATEGORIES)) + " END"
SQL_REFERENCE = "'DEC-' || (i / 1000) || '/2026'"
COUNTRIES = ["IT", "FR", "ES", "KR", "BR", "PE", "MX", "RU", "UA", "LT", "GR", "ID", "PH", "MY", "BD"]


def contributor(number):
    """The contributor of file `number`: each national list comes from an authority of its own."""
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import create_organization

    return create_organization(kind="contributor", name=f"Benchmark Office {number}",
                               country=COUNTRIES[number % len(COUNTRIES)], actor=Actor(via="cli"))


def prefill(first, total, rows, number, org=None):
    """List rows `first` … `first + total - 1` of the synthetic files by direct SQL, `rows` for
    each contributor from contributor `number` on, leaving what importing them as files of
    `rows` rows would (`--check-prefill` compares): the listings with each upload's audit event,
    a change per target numbered in code-point order per file after the current version, the
    aggregated list's entries and the feed state. The targets must be new. With `org`, every block
    is that contributor's (its list grows, as with --one-contributor).

    On PostgreSQL the listings' secondary indexes are built once at the end, and the entries are
    written in one pass in index order: a fill of millions of rows in minutes, not the hour that
    file-by-file index maintenance costs.
    """
    from django.db import connection, transaction

    from sitealert.core import audit, bulk
    from sitealert.core.actors import Actor
    from sitealert.feed.models import Change, FeedEntry, FeedState
    from sitealert.listings.changelog import lock_state
    from sitealert.listings.models import Listing

    if total <= 0:
        return []
    q = connection.ops.quote_name
    listings, changes, entries = (q(m._meta.db_table) for m in (Listing, Change, FeedEntry))
    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    now = bulk.db_datetime(time_now())
    orgs = []
    with transaction.atomic(), connection.cursor() as cursor:
        base = version = lock_state().version
        deferred = []
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                           "(SELECT conname FROM pg_constraint)", [Listing._meta.db_table])
            deferred = cursor.fetchall()
            for name, _ in deferred:
                cursor.execute(f"DROP INDEX {q(name)}")
        for block in range(first, first + total, rows):
            size = min(rows, first + total - block)
            owner = org if org is not None else contributor(number + len(orgs))
            orgs.append(owner)
            event = audit.record(Actor(organization=owner, via="cli"), "listing.submit", owner.slug, {
                "contributor": owner.slug, "items": size, "created": size, "updated": 0, "relisted": 0})
            cursor.execute(
                f"WITH RECURSIVE n(i) AS (SELECT {block} UNION ALL SELECT i + 1 FROM n WHERE i < {block + size - 1}) "
                f"INSERT INTO {listings} (target, kind, contributor_id, category, reference, listed_at, note, status, "
                f"status_reason, held_for, status_changed_at, created_at, updated_at, creation_event_id) "
                f"SELECT target, 'domain', {owner.pk}, category, reference, %s, '', 'active', '', '', %s, %s, %s, "
                f"{event.pk} FROM (SELECT {SQL_TARGET} AS target, {SQL_CATEGORY} AS category, "
                f"{SQL_REFERENCE} AS reference FROM n) s ORDER BY target", [now] * 4)
            cursor.execute(
                f"INSERT INTO {changes} (seq, target, kind, listed, countries, categories, contributors, "
                f"first_listed_at, created_at) SELECT {version} + ROW_NUMBER() OVER (ORDER BY target{collate}), "
                f"target, kind, {bulk.true()}, %s, category, %s || category, listed_at, %s FROM {listings} "
                f"WHERE creation_event_id = %s", [owner.country, f"{owner.pk}:", now, event.pk])
            version += size
        cursor.execute(
            f"INSERT INTO {entries} (target, kind, countries, categories, contributors, first_listed_at, version) "
            f"SELECT target, kind, countries, categories, contributors, first_listed_at, seq FROM {changes} "
            f"WHERE seq > %s "
            f"ORDER BY target", [base])
        for _, definition in deferred:
            cursor.execute(definition)
        FeedState.objects.filter(pk=1).update(version=version)
    bulk.refresh_statistics([Listing, Change, FeedEntry], total)
    return orgs


def time_now():
    from django.utils import timezone

    return timezone.now()


def import_file(number, rows, first, shared=0, shared_first=0, org=None):
    """Import file `number` for a contributor of its own; return (wall time, CPU time). The file
    has the synthetic rows from `first` on, and `shared` of its `rows` are rows from
    `shared_first` on, which other contributors list already. CPU time is this process's and,
    where its server runs on this machine, the database server process's: on a machine that
    other work shares, it moves less than the wall time."""
    from sitealert.core.actors import Actor
    from sitealert.listings.csv_import import import_csv

    org = org or contributor(number)
    data = synthetic_csv(rows - shared, first)
    if shared:
        data += synthetic_csv(shared, shared_first).partition(b"\n")[2]
    cpu, server = time.process_time(), server_cpu()
    start = time.perf_counter()
    report = import_csv(org, data, actor=Actor(organization=org, via="cli"))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu + server_cpu() - server
    assert report.applied and report.counts["accepted"] == rows, report.summary
    return elapsed, cpu


def server_cpu():
    """CPU seconds of this connection's PostgreSQL server process so far (0 if it is elsewhere)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SETTLE = {"all": ("VACUUM ANALYZE", "CHECKPOINT"), "vacuum": ("VACUUM",), "analyze": ("ANALYZE",),
          "checkpoint": ("CHECKPOINT",), "none": ()}


def settle(how="all"):
    """What autovacuum and the checkpointer do between two uploads, done before one is timed
    (`how`: all of it, one part, or none: uploads back to back)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in SETTLE[how]:
            cursor.execute(statement)


def check_prefill(rows):
    """Compare what `prefill` leaves with what importing the same rows leaves; raise if they differ."""
    from django.db import transaction

    from sitealert.listings.models import Listing

    with transaction.atomic():
        filled = snapshot(prefill(0, rows, rows, 99)[0])
        transaction.set_rollback(True)
    import_file(99, rows, 0)

    imported = snapshot(Listing.objects.get(target=WORDS[0] + "0.example").contributor)
    for (name, a), b in zip(filled.items(), imported.values()):
        if a != b:
            raise SystemExit(f"prefill differs from an import in {name}: {sorted(set(a) ^ set(b))[:5]}")
    print(f"prefill of {rows:,} rows leaves what an import leaves: "
          + ", ".join(f"{len(v):,} {k}" for k, v in filled.items()))


def snapshot(org):
    """What an upload by `org` left, without ids and times."""
    from sitealert.feed.models import Change, FeedEntry, FeedState
    from sitealert.listings.models import Listing

    version = FeedState.objects.get(pk=1).version
    listings = Listing.objects.filter(contributor=org)
    base = version - listings.count()
    events = {(e.action, tuple(sorted(e.detail.items())))
              for e in {listing.creation_event for listing in listings.select_related("creation_event")}}
    return {
        "listings": {(l.target, l.kind, l.category, l.reference, l.note, l.status, l.status_reason, l.held_for,
                      l.review_after, l.listed_at == l.created_at == l.updated_at == l.status_changed_at)
                     for l in listings},
        "creation events": events,
        "changes": {(c.seq - base, c.target, c.kind, c.listed, c.countries, c.categories,
                     c.first_listed_at is not None) for c in Change.objects.filter(seq__gt=base)},
        "entries": {(e.target, e.kind, e.countries, e.categories, e.version - base)
                    for e in FeedEntry.objects.filter(version__gt=base)},
    }


def slow_statements(threshold):
    """Print every SQL statement that takes longer than `threshold` seconds, with its time."""
    from django.db import connection

    def wrapper(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            if elapsed >= threshold:
                print(f"    {elapsed:7.2f} s  {' '.join(sql.split())[:160]}", flush=True)

    connection.execute_wrappers.append(wrapper)


def explain_slow(threshold):
    """Print the plan, with actual times and buffers, of each PostgreSQL statement slower than `threshold` s."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("LOAD 'auto_explain'")
        cursor.execute(f"SET auto_explain.log_min_duration = {int(threshold * 1000)}")
        for option in ("log_analyze", "log_buffers", "log_nested_statements"):
            cursor.execute(f"SET auto_explain.{option} = on")
        cursor.execute("SET client_min_messages = log")
    connection.connection.add_notice_handler(lambda notice: print(notice.message_primary, flush=True))


def growing(args):
    """Import files into a table that grows: the first into the empty table, then the table filled
    by SQL to --prefill listings, then --files more files, each timed."""
    from django.db import connection

    from sitealert.listings.models import Listing

    rows = args.rows
    if args.prefill < rows:
        raise SystemExit("--prefill must be at least --rows (the first file counts towards it)")
    baseline = bare_insert([(f"{WORDS[i % 10]}{i}.{TLDS[i % 2]}", "domain", 1, CATEGORIES[i % 8],
                             f"DEC-{i // 1000}/2026", "", "active") for i in range(rows)])

    def report(label, elapsed, cpu):
        print(f"{label:<34} {elapsed:7.2f} s  {rows / elapsed:10,.0f} rows/s  CPU {cpu:6.2f} s "
              f"({rows / cpu:,.0f} rows per CPU second)", flush=True)

    settle()
    # One contributor's list grows (--one-contributor), or each file is another authority's.
    org = contributor(0) if args.one_contributor else None
    first = import_file(0, rows, 0, org=org)
    report("file 1, into the empty table:", *first)
    start = time.perf_counter()
    filled = args.prefill - rows
    number = 1 + len(prefill(rows, filled, filled if org else rows, 1, org=org))
    print(f"prefilled to {args.prefill:,} listings by SQL in {time.perf_counter() - start:.1f} s", flush=True)
    for k in range(args.files):
        shared = int(rows * args.overlap)
        settle(args.settle)
        last = import_file(number, rows, args.prefill + k * rows, shared, k * rows, org=org)
        number += 1
        report(f"file {number}, into {args.prefill + k * rows:,}:", *last)
    assert Listing.objects.count() == args.prefill + args.files * rows
    print(f"database: {connection.vendor}; files of {rows:,} rows; {number} files, "
          f"{args.prefill + args.files * rows:,} listings at the end")
    print(f"bare bulk insert (baseline): {baseline:7.2f} s  {rows / baseline:10,.0f} rows/s")
    print(f"last file / first file: {last[0] / first[0]:.2f}x the time ({last[1] / first[1]:.2f}x the CPU); "
          f"first {first[0] / baseline:.1f}x, last {last[0] / baseline:.1f}x the baseline's time")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each file")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--prefill", type=int, default=0,
                        help="growing table: import a first file into the empty table, fill the table to this "
                             "many listings by SQL, then import --files more files")
    parser.add_argument("--files", type=int, default=1, help="files imported after --prefill (default 1)")
    parser.add_argument("--settle", choices=sorted(SETTLE), default="all",
                        help="PostgreSQL, before each file after --prefill: what autovacuum and the "
                             "checkpointer would have done since the previous upload (all: VACUUM ANALYZE "
                             "and CHECKPOINT, the default), one part of it, or none (uploads back to back)")
    parser.add_argument("--one-contributor", action="store_true",
                        help="growing table: every file and the prefill are one contributor's (its list grows), "
                             "not each an authority of its own")
    parser.add_argument("--overlap", type=float, default=0.0, metavar="FRACTION",
                        help="this fraction of each file after --prefill lists targets already listed")
    parser.add_argument("--check-prefill", action="store_true",
                        help="check that filling the table by SQL leaves what importing the same --rows leaves")
    parser.add_argument("--explain", type=float, default=None, metavar="SECONDS",
                        help="PostgreSQL: print the plan of each statement that takes longer than this")
    parser.add_argument("--slow-statements", type=float, default=None, metavar="SECONDS",
                        help="print each SQL statement that takes longer than this")
    args = parser.parse_args()
    setup(args.database_url)
    from django.conf import settings

    settings.SITEALERT["IMPORT_MAX_BYTES"] = 1 << 40
    settings.SITEALERT["IMPORT_MAX_ROWS"] = 1 << 40
    if args.slow_statements is not None:
        slow_statements(args.slow_statements)
    if args.explain is not None:
        explain_slow(args.explain)
    if args.check_prefill:
        return check_prefill(args.rows)
    if args.prefill:
        return growing(args)
    single(args)


def single(args):
    from django.db import connection

    from sitealert.core.actors import Actor
    from sitealert.listings.csv_import import import_csv
    from sitealert.listings.models import Listing
    from sitealert.organizations.services import create_organization

    data = synthetic_csv(args.rows)
    org = create_organization(kind="contributor", name="Benchmark Office", country="IT", actor=Actor(via="cli"))
    cpu, server = time.process_time(), server_cpu()
    start = time.perf_counter()
    report = import_csv(org, data, actor=Actor(organization=org, via="cli"))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu + server_cpu() - server
    assert report.applied, report.summary
    assert report.counts["accepted"] == args.rows, report.counts
    assert Listing.objects.count() == args.rows

    start = time.perf_counter()
    again = import_csv(org, data, actor=Actor(organization=org, via="cli"))
    elapsed_again = time.perf_counter() - start
    assert again.counts["unchanged"] == args.rows

    # The baseline runs last, into a table of its own, so the import meets a fresh database as a
    # new installation's first upload would (not the pages and log a dropped table leaves behind).
    bare_rows = [(f"{WORDS[i % 10]}{i}.{TLDS[i % 2]}", "domain", org.pk, CATEGORIES[i % 8], f"DEC-{i // 1000}/2026",
                  "", "active") for i in range(args.rows)]
    baseline = bare_insert(bare_rows)
    del bare_rows

    # What a web form submission costs once the database holds the million listings.
    from sitealert.listings.services import EntryInput, submit_entries

    actor = Actor(organization=org, via="web")
    singles = []
    for i in range(20):
        start = time.perf_counter()
        one = submit_entries(org, [EntryInput(target=f"single{i}.example", category="other")], actor=actor)
        singles.append(time.perf_counter() - start)
        assert one.applied and one.counts["accepted"] == 1
    singles.sort()

    vendor = connection.vendor
    print(f"database: {vendor}; rows: {args.rows:,}; CSV: {len(data) / 1e6:.1f} MB")
    print(f"bare bulk insert (baseline):   {baseline:7.2f} s  {args.rows / baseline:10,.0f} rows/s")
    print(f"import, end to end:            {elapsed:7.2f} s  {args.rows / elapsed:10,.0f} rows/s"
          f"  ({elapsed / baseline:.1f}x the baseline's time; CPU {cpu:.2f} s)")
    print(f"same file again (no change):   {elapsed_again:7.2f} s  {args.rows / elapsed_again:10,.0f} rows/s")
    print(f"one-row submission afterwards: {singles[len(singles) // 2] * 1000:7.1f} ms median of 20 "
          f"(max {singles[-1] * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
