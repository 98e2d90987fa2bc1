"""Time `sitealert publish` (the signed static tree) against a cold build of the feed documents, in the same run.

    .venv/bin/python benchmarks/bench_distribution.py [--rows 1000000] [--changes 10000] [--repeat 3]
                                                      [--database-url postgresql://…] [--short]

Part "publish". The run fills the aggregated list with ROWS synthetic entries and their change log
(bench_feed's data and helpers), builds that version's gzip documents as a running server holds
them, publishes the tree once (the previous version, as a worker would have), then applies CHANGES
changes (half removals, half additions) and measures, at the new version:

- baseline: the cold build of the feed documents the tree carries (json, txt and csv with their
  gzip twins) from an empty feed cache: what the feed itself costs for a new installation;
- publish after the new version: the previous version's documents in the feed cache and the
  previous tree on disk, as on a running server (splicing the new documents and their gzip twins,
  the delta from the previous version, hashing and linking the files, signing, pruning);
- publish, documents of the new version already cached (the tree alone);
- publish again at the same version (nothing to do).

Each is the best of --repeat runs, taken in rounds (one of each per round, so that a shared
machine's changing load weighs on the baseline and the publishes alike); the feed cache and the
tree are restored before each. Before
timing, the run checks that the published txt list reproduces the checksum computed with hashlib
from the table, and the delta the version. --short: 100,000 rows and 1,000 changes.
"""

import argparse
import gzip
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_feed import (  # noqa: E402
    CHANGE_COLUMNS,
    ENTRY_COLUMNS,
    apply_delta,
    best,
    fill,
    in_temporary_database,
    setup,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="entries in the aggregated list")
    parser.add_argument("--changes", type=int, default=10_000, help="changes in the new version")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (default: temporary SQLite)")
    parser.add_argument("--short", action="store_true", help="100,000 rows and 1,000 changes")
    parser.add_argument("--published", type=int, default=1,
                        help="versions published before the new one (each gets a delta to it; default 1)")
    args = parser.parse_args()
    if args.short:
        args.rows, args.changes = 100_000, 1_000
    in_temporary_database(args.database_url, lambda data_dir, url: run(args, data_dir, url))


def _published_txt(tree):
    """(state, txt list) of the tree, read through its newest metadata (the checks here are of
    content; tests/distribution verify the signatures with python-tuf)."""
    metadata = os.path.join(tree, "metadata")
    with open(os.path.join(metadata, "timestamp.json")) as f:
        snapshot_version = json.load(f)["signed"]["meta"]["snapshot.json"]["version"]
    with open(os.path.join(metadata, f"{snapshot_version}.snapshot.json")) as f:
        targets_version = json.load(f)["signed"]["meta"]["targets.json"]["version"]
    with open(os.path.join(metadata, f"{targets_version}.targets.json")) as f:
        targets = json.load(f)["signed"]["targets"]

    def read(path):
        directory, _, name = path.rpartition("/")
        stored = os.path.join(tree, "targets", directory, f"{targets[path]['hashes']['sha256']}.{name}")
        with open(stored, "rb") as f:
            return f.read()

    state = json.loads(read("state.json"))
    return state, gzip.decompress(read(state["lists"]["txt"])), {
        since: json.loads(gzip.decompress(read(path))) for since, path in state["deltas"].items()}


def _add_one(name, version):
    """A version that lists one more target; returns it."""
    from datetime import UTC, datetime

    from django.db import transaction

    from sitealert.core import bulk
    from sitealert.feed.models import FeedState

    now = bulk.db_datetime(datetime.now(UTC))
    with transaction.atomic():
        bulk.insert_rows("feed_feedentry", ENTRY_COLUMNS, [(name, "domain", "IT", "cyberlocker", now, version + 1)])
        bulk.insert_rows("feed_change", CHANGE_COLUMNS, [(version + 1, name, "domain", True, "IT", "cyberlocker", now,
                                                          now)])
        FeedState.objects.filter(pk=1).update(version=version + 1)
    return version + 1


def run(args, data_dir, database_url):
    setup(data_dir, database_url)
    from django.conf import settings
    from django.db import connection

    from sitealert.distribution import keys, publish
    from sitealert.feed import builder

    started = time.perf_counter()
    since = fill(args.rows, args.changes)
    fill_time = time.perf_counter() - started
    cache_dir = settings.SITEALERT["FEED_CACHE_DIR"]
    keys_dir = os.path.join(data_dir, "keys")
    keys.init(keys_dir)
    tree = os.path.join(data_dir, "tree")
    publish.publish(tree, keys_dir=keys_dir)  # the previous version, published
    for number in range(args.published - 1):  # and more before it, one new listing each
        since = _add_one(f"published{number}.example", since)
        publish.publish(tree, keys_dir=keys_dir)
    saved_cache, saved_tree = os.path.join(data_dir, "previous-cache"), os.path.join(data_dir, "previous-tree")
    shutil.copytree(cache_dir, saved_cache)
    shutil.copytree(tree, saved_tree, symlinks=True)
    version = apply_delta(args.rows, args.changes, since)

    def previous():
        for path, saved in ((cache_dir, saved_cache), (tree, saved_tree)):
            shutil.rmtree(path, ignore_errors=True)
            shutil.copytree(saved, path)

    def new_documents_cached():
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(saved_tree, tree)
        for fmt in publish.LIST_FORMATS:
            builder.open_feed(fmt, gzipped=True).file.close()
        builder.open_changes(since, gzipped=True).file.close()

    def cold():
        shutil.rmtree(cache_dir, ignore_errors=True)

    def cold_build():
        for fmt in publish.LIST_FORMATS:
            builder.open_feed(fmt, gzipped=True).file.close()

    def publish_tree():
        publication = publish.publish(tree, keys_dir=keys_dir)
        assert publication.version == version and publication.written

    def publish_again():
        assert not publish.publish(tree, keys_dir=keys_dir).changed

    # Correctness first: the published list reproduces an independent checksum of the table.
    previous()
    publish_tree()
    with connection.cursor() as cursor:
        cursor.execute("SELECT target FROM feed_feedentry")
        expected = "sha256:" + hashlib.sha256("".join(t + "\n" for t in sorted(t for (t,) in cursor.fetchall()))
                                               .encode()).hexdigest()
    state, txt, deltas = _published_txt(tree)
    assert state["checksum"] == expected == "sha256:" + hashlib.sha256(txt).hexdigest(), state
    assert state["version"] == version and state["count"] == args.rows + args.published - 1
    assert deltas[str(since)]["version"] == version and len(deltas[str(since)]["changes"]) == args.changes
    assert len(deltas) == args.published
    sizes = {fmt: os.path.getsize(builder.open_feed(fmt, gzipped=True).file.name) for fmt in publish.LIST_FORMATS}

    r = args.repeat
    measured = [
        ("baseline: cold build of json, txt, csv + gzip twins", cold_build, cold),
        (f"publish after a {args.changes:,}-change version", publish_tree, previous),
        ("publish, new version's documents already cached", publish_tree, new_documents_cached),
        ("publish again, same version (nothing to do)", publish_again, None),
    ]
    # Round robin, best of each: on a shared machine the load changes during the run, and each
    # round gives the baseline and the publishes the same conditions.
    times = {label: best(fn, 1, before) for label, fn, before in measured}
    for _ in range(r - 1):
        for label, fn, before in measured:
            times[label] = min(times[label], best(fn, 1, before))
    base = times[measured[0][0]]
    rows = list(times.items())
    print(f"database: {connection.vendor}; entries: {args.rows:,}; version: {version:,}; new version: "
          f"{args.changes:,} changes; deltas from {args.published} published versions; best of {r}; "
          f"fill: {fill_time:.1f} s; cpus: {os.cpu_count()}; gzip lists: "
          + ", ".join(f"{fmt} {size / 1e6:.1f} MB" for fmt, size in sizes.items()))
    print(f"| {'measurement':<56} | {'seconds':>8} | {'x baseline':>10} |")
    print(f"|{'-' * 58}|{'-' * 10}:|{'-' * 11}:|")
    for label, seconds in rows:
        print(f"| {label:<56} | {seconds:8.3f} | {seconds / base:10.2f} |")


if __name__ == "__main__":
    main()
