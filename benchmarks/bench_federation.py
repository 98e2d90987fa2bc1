"""The federation listings document at a million listings, against the feed's own JSON document.

    .venv/bin/python benchmarks/bench_federation.py [--rows 1000000] [--database-url postgresql://…]

The listings are filled by SQL as imports would leave them (bench_import.prefill, one contributor
per --per-contributor rows, and --shared of the targets listed by a second authority), then, in one
run on the same database and version, each document is built cold into an empty feed cache: the
baseline, the feed's JSON document (`/api/v1/feed`, with its gzip twin), then
`/api/v1/federation/listings?since=0` and `/federation/authorities` (with theirs), then a delta of
1,000 changed targets. Peak memory is the Python heap's (tracemalloc) during each build: the
listings are streamed a thousand targets at a time, so it does not grow with the list.
"""

import argparse
import shutil
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_import import prefill, setup  # noqa: E402


def timed(build):
    tracemalloc.start()
    start = time.perf_counter()
    result = build()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, result


def empty_cache():
    from sitealert.core.conf import setting

    shutil.rmtree(setting("FEED_CACHE_DIR"), ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="listings")
    parser.add_argument("--per-contributor", type=int, default=100_000, help="listings per authority")
    parser.add_argument("--shared", type=int, default=50_000, help="targets a second authority lists too")
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: a temporary SQLite file)")
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
          f"listed twice, filled in {time.perf_counter() - start:.1f} s", flush=True)

    results = {}
    for name, build in [
        ("feed JSON document (baseline)", lambda: builder.open_feed("json", gzipped=True)),
        ("federation listings since 0", lambda: documents.open_document("listings", 0, gzipped=True)),
        ("federation authorities", lambda: documents.open_document("authorities", gzipped=True)),
    ]:
        empty_cache()
        elapsed, peak, opened = timed(build)
        opened.file.close()
        results[name] = (elapsed, peak, opened.size)

    version = builder.current_version()
    with transaction.atomic():
        changed = shared[:1000]
        Listing.objects.filter(contributor=second, target__in=changed).update(status="removed")
        refresh_targets(changed)
    elapsed, peak, opened = timed(lambda: documents.open_document("listings", version, gzipped=True))
    opened.file.close()
    results["federation listings since V (1,000 changed targets)"] = (elapsed, peak, opened.size)

    baseline = results["feed JSON document (baseline)"][0]
    for name, (elapsed, peak, size) in results.items():
        print(f"{name:55} {elapsed:7.2f} s  {elapsed / baseline:5.2f}x  peak heap {peak / 1e6:7.1f} MB  "
              f"gzip {size / 1e6:7.1f} MB")


if __name__ == "__main__":
    main()
