"""The federation listings document at a million listings, against the feed's own JSON document.

    .venv/bin/python benchmarks/bench_federation_documents.py [--rows 1000000] [--changes 10000] [--database-url postgresql://…]

The listings are filled by SQL as imports would leave them (bench_import.prefill, one contributor
per --per-contributor rows, and --shared of the targets listed by a second authority), then, in one
run on the same database and version, each document is built cold into an empty feed cache: the
baseline, the feed's JSON document (`/api/v1/feed`, with its gzip twin); then
`/api/v1/federation/listings?since=0` as it was built before it was spliced (the code of issue 16,
kept here: a sort of every listing, a Python loop per target) and as it is built cold now, checked
to be the same bytes; and `/federation/authorities`. Then --changes targets change (a third each:
new targets, removals, and a second authority's listing of a shared target recategorized), and
the new version is built as the worker builds it: the feed's JSON and txt documents (`feed.warm`,
spliced), then the full listings document spliced from the previous version's, checked against a
cold build of the same version, and the delta since the previous version. With --heap, each
build's peak Python heap (tracemalloc, which slows allocation-heavy code several times over).
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
import tracemalloc
from itertools import groupby, islice
from json.encoder import encode_basestring
from operator import itemgetter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_import import prefill, setup  # noqa: E402


def timed(build, heap=False):
    """(seconds, peak Python heap or 0, result): the heap only when asked (tracemalloc slows
    allocation-heavy code several times over, the old build far more than the new)."""
    if heap:
        tracemalloc.start()
    start = time.perf_counter()
    result = build()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if heap else 0
    if heap:
        tracemalloc.stop()
    return elapsed, peak, result


def empty_cache():
    from sitealert.core.conf import setting

    shutil.rmtree(setting("FEED_CACHE_DIR"), ignore_errors=True)


def issue16_cold_build():
    """The full listings document (no authority withheld) built as issue 16 built it, into the feed
    cache's directory with its gzip twin: (path, size of the gzip twin)."""
    from django.db import connection

    from sitealert.core.bulk import gc_paused
    from sitealert.federation import documents
    from sitealert.feed import builder, cache
    from sitealert.feed.render import iso_from_db

    collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""
    listed_at = ("CAST(l.listed_at AT TIME ZONE 'UTC' AS TEXT)" if connection.vendor == "postgresql"
                 else "CAST(l.listed_at AS TEXT)")

    def rows():
        with connection.chunked_cursor() as cursor:
            cursor.execute(f"SELECT l.target, e.kind, l.contributor_id, l.category, {listed_at}, e.version "
                           f"FROM listings_listing l JOIN feed_feedentry e ON e.target = l.target "
                           f"WHERE l.status = 'active' ORDER BY l.target{collate}, l.contributor_id, l.category")
            while batch := cursor.fetchmany(builder.FETCH_ROWS):
                yield from batch

    def rendered(rows, keys):
        heads, isos = {}, {}
        for target, group in groupby(rows, key=itemgetter(0)):
            first = next(group)
            items = []
            for _target, _kind, contributor, category, listed, version in (first, *group):
                head = heads.get((contributor, category))
                if head is None:
                    head = heads[contributor, category] = (f'{{"authority":{encode_basestring(keys[contributor])},'
                                                           f'"category":{encode_basestring(category)},"listed_at":"')
                iso = isos.get(listed)
                if iso is None:
                    if len(isos) > 100_000:
                        isos.clear()
                    iso = isos[listed] = iso_from_db(listed)
                items.append(f'{head}{iso}","version":{version}}}')
            yield (f'{{"target":{encode_basestring(target)},"kind":{encode_basestring(first[1])},'
                   f'"listings":[{",".join(items)}]}}')

    def pieces(head, targets):
        yield (json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"targets":[').encode()
        separator = ""
        while chunk := list(islice(targets, 1_000)):
            yield (separator + ",".join(chunk)).encode()
            separator = ","
        yield b'],"more":false}'

    uid = documents.installation_uid()
    state = builder.feed_state()
    path = os.path.join(cache.epoch_directory(state.epoch), "issue16-listings.json")
    feed = builder.current_checksum()
    with gc_paused(), builder.consistent_read() as (version, _):
        assert feed[0] == version
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM feed_feedentry")
            count = cursor.fetchone()[0]
        head = {"installation": uid, "since": 0, "version": version, "epoch": state.epoch, "checksum": feed[1],
                "count": count}
        cache._write_document(path, path + ".gz", pieces(head, rendered(rows(), documents._keys(uid))))
    return path, os.path.getsize(path + ".gz")


def digest(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="listings")
    parser.add_argument("--per-contributor", type=int, default=100_000, help="listings per authority")
    parser.add_argument("--shared", type=int, default=50_000, help="targets a second authority lists too")
    parser.add_argument("--changes", type=int, default=10_000, help="targets changed before the spliced version")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--heap", action="store_true", help="measure each build's peak Python heap (tracemalloc)")
    args = parser.parse_args()
    setup(args.database_url)
    from django.db import connection, transaction

    from sitealert.core.actors import Actor
    from sitealert.federation import documents
    from sitealert.feed import builder
    from sitealert.listings.changelog import refresh_targets
    from sitealert.listings.models import Listing
    from sitealert.organizations.services import create_organization

    start = time.perf_counter()
    orgs = prefill(0, args.rows, args.per_contributor, 1)
    # A second authority on some targets, through the change-log writer as a pull would.
    second = create_organization(kind="contributor", name="Benchmark Second", country="FR", actor=Actor(via="cli"))
    shared = list(Listing.objects.filter(contributor=orgs[0]).order_by("target")
                  .values_list("target", flat=True)[:args.shared])
    with transaction.atomic():
        Listing.objects.bulk_create((Listing(target=t, kind="domain", contributor=second, category="other")
                                     for t in shared), batch_size=10_000)
        refresh_targets(shared)
    print(f"{connection.vendor}: {args.rows:,} listings of {len(orgs)} authorities, {len(shared):,} targets "
          f"listed twice, filled in {time.perf_counter() - start:.1f} s; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    def opened(build):
        def run():
            document = build()
            document.file.close()
            return document.size
        return run

    results = {}

    def measure(name, build, cold=True):
        if cold:
            empty_cache()
        elapsed, peak, result = timed(build, args.heap)
        size = result[1] if isinstance(result, tuple) else result
        results[name] = (elapsed, peak, size or 0)
        print(f"  {name}: {elapsed:.2f} s", flush=True)
        return result

    measure("feed JSON document (baseline)", opened(lambda: builder.open_feed("json", gzipped=True)))
    before = digest(measure("federation listings since 0, cold, as in issue 16", issue16_cold_build)[0])
    measure("federation listings since 0, cold", opened(lambda: documents.open_document("listings", 0, gzipped=True)))
    cold = documents.open_document("listings", 0)
    cold.file.close()
    same = before == digest(cold.file.name)
    measure("federation authorities", opened(lambda: documents.open_document("authorities", gzipped=True)), False)
    builder.warm(("json", "txt"))  # as the worker leaves the feed's documents of a version

    # The next version: --changes targets, a third new, a third removed, a third recategorized.
    version = builder.current_version()
    third = args.changes // 3
    listed = list(Listing.objects.filter(contributor=orgs[-1]).order_by("target").values_list("target", flat=True)
                  [:third])
    with transaction.atomic():
        Listing.objects.bulk_create((Listing(target=f"new{i:07d}.bench.example", kind="domain", contributor=orgs[0],
                                             category="other") for i in range(third)), batch_size=10_000)
        Listing.objects.filter(contributor=orgs[-1], target__in=listed).update(status="removed")
        recategorized = shared[-(args.changes - 2 * third):]
        Listing.objects.filter(contributor=second, target__in=recategorized).update(category="cyberlocker")
        refresh_targets([f"new{i:07d}.bench.example" for i in range(third)] + listed + recategorized)
    changed = builder.current_version() - version
    measure(f"feed JSON and txt documents spliced, {changed:,} changes (feed.warm)",
            lambda: builder.warm(("json", "txt")), False)
    measure(f"federation listings since 0, spliced, {changed:,} changes",
            opened(lambda: documents.open_document("listings", 0, gzipped=True)), False)
    spliced = documents.open_document("listings", 0)
    spliced.file.close()
    spliced_digest = digest(spliced.file.name)
    measure(f"federation listings since V, {changed:,} changes",
            opened(lambda: documents.open_document("listings", version, gzipped=True)), False)
    empty_cache()
    cold = documents.open_document("listings", 0)
    cold.file.close()
    same_spliced = digest(cold.file.name) == spliced_digest

    baseline = results["feed JSON document (baseline)"][0]
    for name, (elapsed, peak, size) in results.items():
        print(f"{name:68} {elapsed:7.2f} s  {elapsed / baseline:5.2f}x  peak heap {peak / 1e6:7.1f} MB  "
              f"gzip {size / 1e6:7.1f} MB")
    print(f"same bytes: cold now and as in issue 16: {'yes' if same else 'NO'}; spliced and cold: "
          f"{'yes' if same_spliced else 'NO'}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not (same and same_spliced):
        sys.exit(1)


if __name__ == "__main__":
    main()
