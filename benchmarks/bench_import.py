"""Import a synthetic CSV end to end and compare with a bare bulk insert of the same rows.

    .venv/bin/python benchmarks/bench_import.py [--rows 1000000] [--database-url postgresql://…]

End to end means what `sitealert import` does: decode, parse, normalize every target, validate,
write listings, the audit event (and its items), the change log and the aggregated list, in one
transaction. Then the same file again (nothing changes), and the median time of a one-row
submission (the web form) into the database that now holds the million listings. The
baseline, measured in the same run on the same database, inserts the same rows with a single
executemany/COPY into a bare table with the listing table's columns and no indexes or checks.
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
    """A realistic mix: bare hosts, mixed case, URLs with paths, www prefixes, subdomains (rows start.. distinct)."""
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    setup(args.database_url)
    from django.conf import settings
    from django.db import connection

    from sitealert.core.actors import Actor
    from sitealert.listings.csv_import import import_csv
    from sitealert.listings.models import Listing
    from sitealert.organizations.services import create_organization

    settings.SITEALERT["IMPORT_MAX_BYTES"] = 1 << 40
    settings.SITEALERT["IMPORT_MAX_ROWS"] = 1 << 40
    data = synthetic_csv(args.rows)
    org = create_organization(kind="contributor", name="Benchmark Office", country="IT", actor=Actor(via="cli"))
    start = time.perf_counter()
    report = import_csv(org, data, actor=Actor(organization=org, via="cli"))
    elapsed = time.perf_counter() - start
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
          f"  ({elapsed / baseline:.1f}x the baseline's time)")
    print(f"same file again (no change):   {elapsed_again:7.2f} s  {args.rows / elapsed_again:10,.0f} rows/s")
    print(f"one-row submission afterwards: {singles[len(singles) // 2] * 1000:7.1f} ms median of 20 "
          f"(max {singles[-1] * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
