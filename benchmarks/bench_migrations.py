"""Time the upgrade from before issue 16 (federation) to the head on a database of N listings.

    .venv/bin/python benchmarks/bench_migrations.py [--listings 1000000] [--shared-every 10]
                                                    [--compare CHECKOUT] [--database-url postgresql://…]
    scripts/pg sh -c '.venv/bin/python benchmarks/bench_migrations.py --listings 10000000 \
                      --database-url "$SITEALERT_DATABASE_URL"'

Builds a database at the state before issue 16's migrations (feed 0004, listings 0002,
organizations 0002, federation 0001–0002 and whatever depends on them unapplied: a temporary SQLite
file, or a temporary database on the given PostgreSQL server), fills it by SQL as an installation
would have it — authorities with uploads of contiguous blocks of the synthetic targets of
bench_import.py, every --shared-every-th target listed by a second authority, a few listings
removed or held by a third, a change per listing, the aggregated list's entries and its version —
and runs `migrate` to the head in a fresh process. It reports the migration's time, each
migration's, the peak RSS of the migrating process and listings per second, beside a baseline
measured in the same run on the same database: one `UPDATE` that rewrites one column of every
entry (the least that filling a new column of the aggregated list can cost).

Then it checks the result: every entry whose --check-every-th version it draws (all of them by
default up to two million entries) holds what `sitealert.listings.changelog.joined_contributors`
computes from its target's active listings, no entry is left empty, and the change-log writer,
run on the drawn targets, finds nothing to change.

--compare CHECKOUT also migrates a copy of the same filled database with the code of another
checkout (`git archive <commit> | tar -x -C DIR`), first, gives the ratios this/other and checks
that both left every entry with the same contributors (a digest of all of them, in target order).
--slow-statements S has the migrating process print each SQL statement slower than S seconds.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlunparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_feed import TemporaryPostgres, in_temporary_database, setup  # noqa: E402
from bench_import import CATEGORIES, COUNTRIES, SQL_CATEGORY, SQL_REFERENCE, SQL_TARGET  # noqa: E402

# The newest migration of each app that issue 16 left as it was; the rest of each app came with it.
BEFORE_ISSUE_16 = [
    ("feed", "0003_feedentry_code_point_covering_key"),
    ("listings", "0001_initial"),
    ("organizations", "0001_initial"),
    ("federation", None),
]


def migrate_before_issue_16():
    """Bring the database, migrated to the head, back to the state before issue 16 (every app that
    does not depend on its migrations stays at its head); return the apps (historical models) of
    that state."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    return MigrationExecutor(connection).migrate(BEFORE_ISSUE_16).apps


def fill(apps, listings, every, authorities):
    """Fill the database at the old state with about `listings` listings; return the numbers of targets,
    of targets listed twice and of listings."""
    from django.db import connection, transaction

    from sitealert.core import bulk

    targets = listings * every // (every + 1)
    shared = (targets + every - 1) // every
    Organization, AuditEvent = apps.get_model("organizations", "Organization"), apps.get_model("core", "AuditEvent")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    ids = []
    for k in range(authorities):
        org = Organization.objects.create(slug=f"benchmark-office-{k}", name=f"Benchmark Office {k}",
                                          kind="contributor", country=COUNTRIES[k % len(COUNTRIES)],
                                          status="approved", approved_at=now)
        ids.append(org.pk)
    events = [AuditEvent.objects.create(organization_id=pk, via="cli", action="listing.submit",
                                        object_repr=f"benchmark-office-{k}").pk for k, pk in enumerate(ids)]
    q = connection.ops.quote_name
    tables = {name: q(apps.get_model(*name.split("."))._meta.db_table)
              for name in ("listings.Listing", "feed.Change", "feed.FeedEntry", "feed.FeedState",
                           "organizations.Organization")}
    listings_table, changes, entries = tables["listings.Listing"], tables["feed.Change"], tables["feed.FeedEntry"]
    half = authorities // 2
    first = f"(i * {authorities} / {targets})"  # the authority of the upload that listed target i first
    # The second authority of a shared target, and those that removed or hold a listing of it: never the
    # first, never one another. (%% is SQL's modulo in a statement with parameters.)
    second = f"(({first} + 1 + (i / {every}) %% {half - 1}) %% {authorities})"
    removed, held = f"(({first} + {half}) %% {authorities})", f"(({first} + {half} + 1) %% {authorities})"
    with transaction.atomic(), connection.cursor() as cursor:
        deferred = _drop_secondary_indexes(cursor, apps.get_model("listings", "Listing")._meta.db_table)
        for who, where, status, category, when in [
                (first, "1 = 1", "active", SQL_CATEGORY, now),
                (second, f"i %% {every} = 0", "active", _pick(CATEGORIES, f"(i / {every} + 3) %% 8"),
                 now + timedelta(days=30)),
                (removed, "i %% 97 = 5", "removed", SQL_CATEGORY, now + timedelta(days=60)),
                (held, "i %% 211 = 7", "held", SQL_CATEGORY, now + timedelta(days=90))]:
            prefix, numbers = _numbers(connection.vendor, targets)
            cursor.execute(
                f"{prefix}INSERT INTO {listings_table} (target, kind, contributor_id, category, reference, listed_at, "
                f"note, status, status_reason, held_for, status_changed_at, created_at, updated_at, creation_event_id) "
                f"SELECT target, 'domain', {_pick(ids, 'a')}, category, reference, %s, '', %s, %s, %s, %s, %s, %s, "
                f"{_pick(events, 'a')} FROM (SELECT {SQL_TARGET} AS target, {category} AS category, "
                f"{SQL_REFERENCE} AS reference, {who} AS a FROM {numbers} WHERE {where}) AS s ORDER BY target",
                [bulk.db_datetime(when), status, "Decision revoked" if status == "removed" else "",
                 "example" if status == "held" else ""] + [bulk.db_datetime(when)] * 3)
        for _, definition in deferred:
            cursor.execute(definition)
        # A change per listing, in the order they were made; the entries, the aggregate of each
        # target's active listings as the change-log writer leaves it (at most two of them here).
        orgs = tables["organizations.Organization"]
        cursor.execute(
            f"INSERT INTO {changes} (seq, target, kind, listed, countries, categories, first_listed_at, created_at) "
            f"SELECT l.id, l.target, l.kind, {bulk.true()}, o.country, l.category, l.listed_at, l.created_at "
            f"FROM {listings_table} l JOIN {orgs} o ON o.id = l.contributor_id ORDER BY l.id")
        cursor.execute(
            f"INSERT INTO {entries} (target, kind, countries, categories, first_listed_at, version) "
            f"SELECT l.target, MIN(l.kind), {_pair('o.country')}, {_pair('l.category')}, MIN(l.listed_at), MAX(l.id) "
            f"FROM {listings_table} l JOIN {orgs} o ON o.id = l.contributor_id WHERE l.status = 'active' "
            f"GROUP BY l.target ORDER BY l.target{_collate()}")
        cursor.execute(f"SELECT COUNT(*), MAX(id) FROM {listings_table}")
        written, version = cursor.fetchone()
        cursor.execute(f"INSERT INTO {tables['feed.FeedState']} (id, version, pruned_through, epoch) "
                       f"VALUES (1, %s, 0, 'benchmark')", [version])
    _settle()
    return targets, shared, written


def _numbers(vendor, n):
    """(WITH prefix, FROM item) giving a column i of 0 … n - 1."""
    if vendor == "postgresql":
        return "", f"generate_series(0, {n - 1}) AS n(i)"
    return f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {n - 1}) ", "n"


def _pick(values, expression):
    """SQL for values[expression]: strings as literals, numbers as numbers."""
    literals = (f"'{v}'" if isinstance(v, str) else str(v) for v in values)
    return f"CASE {expression} " + " ".join(f"WHEN {k} THEN {v}" for k, v in enumerate(literals)) + " END"


def _pair(column):
    """The sorted, comma-joined distinct values of a column over a group of at most two rows."""
    low, high = f"MIN({column}{_collate()})", f"MAX({column}{_collate()})"
    return f"CASE WHEN {low} = {high} THEN {low} ELSE {low} || ',' || {high} END"


def _collate():
    from django.db import connection

    return ' COLLATE "C"' if connection.vendor == "postgresql" else ""


def _drop_secondary_indexes(cursor, table):
    """PostgreSQL: drop the table's indexes that no constraint owns; return them to build again."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
                   "(SELECT conname FROM pg_constraint)", [table])
    deferred = cursor.fetchall()
    for name, _ in deferred:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return deferred


def _settle():
    """Statistics, and on PostgreSQL what autovacuum and the checkpointer do on a database at rest."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the whole database in its file, to copy


def database_size():
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return cursor.fetchone()[0]
    name = Path(settings.DATABASES["default"]["NAME"])
    return sum(p.stat().st_size for p in name.parent.glob(name.name + "*"))


# Runs `migrate` to the head with the code of the checkout argv[1] on the database the environment
# names, in a process of its own, and prints its time, each migration's and its peak RSS as JSON.
CHILD = r"""
import io, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import django
django.setup()
import sitealert
from django.core.management import call_command
if float(sys.argv[3]) > 0:
    from bench_import import slow_statements
    slow_statements(float(sys.argv[3]))
started_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = io.StringIO()
start = time.perf_counter()
call_command("migrate", interactive=False, verbosity=2, stdout=out)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "started_mb": started_rss / 1024, "log": out.getvalue(), "code": sitealert.__file__}))
"""


def migrate_in_child(code, env, slow):
    result = subprocess.run([sys.executable, "-c", CHILD, code, str(Path(__file__).resolve().parent), str(slow)],
                            env={**os.environ, **env}, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"migrate failed with the code in {code}:\n{result.stdout}{result.stderr}")
    lines = result.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    outcome = json.loads(lines[-1])
    if not outcome["code"].startswith(str(Path(code).resolve()) + os.sep):
        raise SystemExit(f"the migrating process ran the code in {outcome['code']}, not {code}")
    outcome["migrations"] = re.findall(r"Applying (\S+)\.\.\. OK \(([\d.]+)s\)", outcome.pop("log"))
    return outcome


# Prints the SHA-256 of every entry's target and contributors in code-point order of the targets, read
# with this checkout's code from the database the environment names: the two migrations' results.
CHILD_DIGEST = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import django
django.setup()
from django.db import connection
digest = hashlib.sha256()
order = 'target COLLATE "C"' if connection.vendor == "postgresql" else "target"
with connection.chunked_cursor() as cursor:
    cursor.execute(f"SELECT target, contributors FROM feed_feedentry ORDER BY {order}")
    while rows := cursor.fetchmany(10000):
        digest.update("".join(f"{t}\t{c}\n" for t, c in rows).encode())
print(digest.hexdigest())
"""


def contributors_digest(env):
    code = str(Path(__file__).resolve().parent.parent)
    return subprocess.run([sys.executable, "-c", CHILD_DIGEST, code], env={**os.environ, **env}, check=True,
                          capture_output=True, text=True).stdout.strip()


def check(check_every):
    """Compare the contributors of the entries whose version is a multiple of `check_every` with the
    writer's rule; return the numbers of entries checked, of those with two contributors and of
    those the writer refreshed."""
    from django.db import connection, transaction

    from sitealert.feed.models import FeedEntry, FeedState
    from sitealert.listings.changelog import joined_contributors, refresh_targets
    from sitealert.listings.models import Listing

    q = connection.ops.quote_name
    entries, listings = q(FeedEntry._meta.db_table), q(Listing._meta.db_table)
    drawn = f"SELECT target FROM {entries} WHERE version % {check_every} = 0"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {entries} WHERE contributors = ''")
        empty = cursor.fetchone()[0]
        if empty:
            raise SystemExit(f"{empty:,} entries were left without contributors")
        cursor.execute(f"SELECT target, contributors FROM {entries} WHERE version % {check_every} = 0")
        found = dict(cursor.fetchall())
        cursor.execute(f"SELECT target, contributor_id, category FROM {listings} "
                       f"WHERE status = 'active' AND target IN ({drawn})")
        pairs = {}
        for target, contributor, category in cursor.fetchall():
            pairs.setdefault(target, []).append((contributor, category))
    wrong = [t for t, value in found.items() if value != joined_contributors(pairs.get(t, ()))]
    if wrong:
        raise SystemExit(f"{len(wrong):,} of {len(found):,} entries differ from the writer's rule, e.g. "
                         + ", ".join(f"{t}: {found[t]!r}" for t in wrong[:3]))
    shared = sum(1 for p in pairs.values() if len(p) > 1)
    if not shared:
        raise SystemExit("no drawn entry has two contributors: draw more (--check-every)")
    refreshed = sorted(found)[:20_000]
    with transaction.atomic():
        version = FeedState.objects.get(pk=1).version
        if refresh_targets(refreshed) != version:
            raise SystemExit("the change-log writer finds differences after the migration")
        transaction.set_rollback(True)
    return len(found), shared, len(refreshed)


def baseline():
    """(seconds of the VACUUM ANALYZE of the entries, seconds of the baseline): on PostgreSQL the dead
    rows of the migration's rewrite are vacuumed first, as autovacuum would (and as docs/production.md
    advises after the upgrade); then one UPDATE rewrites one column of every entry (rolled back)."""
    from django.db import connection, transaction

    from sitealert.feed.models import FeedEntry

    table = connection.ops.quote_name(FeedEntry._meta.db_table)
    vacuum = 0.0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute(f"VACUUM ANALYZE {table}")
            vacuum = time.perf_counter() - start
            cursor.execute("CHECKPOINT")
    start = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET contributors = contributors || ''")
        seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    return vacuum, seconds


class PostgresCopy(TemporaryPostgres):
    """A copy of the database at `url`, made on its server, dropped on exit."""

    def __init__(self, url):
        super().__init__(url)
        self.source, self.url = self.url.path.lstrip("/"), self.url._replace(path="/postgres")

    def __enter__(self):
        self._admin(f'CREATE DATABASE "{self.name}" TEMPLATE "{self.source}"')
        return urlunparse(self.url._replace(path="/" + self.name))


def clone(stack, vendor, database_url, data_dir):
    """A copy of the filled database for the other checkout: its environment."""
    from django.db import connections

    connections.close_all()
    if vendor == "postgresql":
        return {"SITEALERT_DATABASE_URL": stack.enter_context(PostgresCopy(database_url))}
    other_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sitealert-bench-other-"))
    shutil.copy(os.path.join(data_dir, "sitealert.sqlite3"), other_dir)
    return {"SITEALERT_DATA_DIR": other_dir}


def run(args, data_dir, database_url):
    setup(data_dir, database_url)
    from django.db import connection, connections

    apps = migrate_before_issue_16()
    started = time.perf_counter()
    targets, shared, written = fill(apps, args.listings, args.shared_every, args.authorities)
    fill_seconds = time.perf_counter() - started
    vendor, size_before = connection.vendor, database_size()
    check_every = args.check_every or (1 if written <= 2_000_000 else written // 100_000)
    print(f"database: {vendor}; listings: {written:,} ({targets:,} targets, {shared:,} listed twice, "
          f"{args.authorities} authorities); filled by SQL in {fill_seconds:.1f} s; size {size_before / 1e9:.2f} GB; "
          f"cpus: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    results = {}
    with ExitStack() as stack:
        if args.compare:
            env = clone(stack, vendor, database_url, data_dir)
            results["other"] = migrate_in_child(str(Path(args.compare).resolve()), env, args.slow_statements)
        connections.close_all()
        results["this"] = migrate_in_child(str(Path(__file__).resolve().parent.parent), {}, args.slow_statements)
        same = args.compare and contributors_digest(env) == contributors_digest({})
    size_after = database_size()
    checked, checked_shared, refreshed = check(check_every)
    vacuum, floor = baseline()
    print(f"checked: {checked:,} entries (every {check_every}th version; {checked_shared:,} with two contributors) "
          f"hold what the writer computes, none is empty; refreshing {refreshed:,} of them changes nothing")
    print(f"size after: {size_after / 1e9:.2f} GB; load average {os.getloadavg()[0]:.2f}"
          + (f"; VACUUM ANALYZE of the entries afterwards: {vacuum:.1f} s" if vacuum else ""))
    print("| code | migrate s | listings/s | x baseline | peak RSS MB (after start-up) | slowest migrations |")
    print("|---|---|---|---|---|---|")
    print(f"| baseline: UPDATE of one column of every entry | {floor:.2f} | {written / floor:,.0f} | 1.00 | | |")
    for name, r in results.items():
        slowest = sorted(r["migrations"], key=lambda m: -float(m[1]))[:3]
        print(f"| {name} | {r['seconds']:.2f} | {written / r['seconds']:,.0f} | {r['seconds'] / floor:.2f} | "
              f"{r['rss_mb']:.0f} ({r['started_mb']:.0f}) | "
              + ", ".join(f"{m} {float(s):.1f} s" for m, s in slowest) + " |")
    if len(results) > 1:
        this, other = results["this"], results["other"]
        print(f"this/other: {this['seconds'] / other['seconds']:.2f} the time, "
              f"{this['rss_mb'] / other['rss_mb']:.2f} the peak RSS; every entry's contributors the same: "
              + ("yes" if same else "NO"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listings", type=int, default=1_000_000, help="listings in the database (about)")
    parser.add_argument("--shared-every", type=int, default=10, help="every this-th target has a second authority")
    parser.add_argument("--authorities", type=int, default=20, help="contributors (at least 6)")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (default: temporary SQLite)")
    parser.add_argument("--compare", metavar="CHECKOUT", help="also migrate a copy with another checkout's code")
    parser.add_argument("--check-every", type=int, default=0,
                        help="check the entries whose version is a multiple of this (default: all up to "
                             "2,000,000 listings, a sample beyond)")
    parser.add_argument("--slow-statements", type=float, default=0, metavar="SECONDS",
                        help="the migrating process prints each SQL statement slower than this")
    args = parser.parse_args()
    if args.authorities < 6:
        parser.error("--authorities must be at least 6")
    in_temporary_database(args.database_url, lambda data_dir, url: run(args, data_dir, url))


if __name__ == "__main__":
    main()
