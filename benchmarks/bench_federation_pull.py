"""Federation: a subscriber's first pull of N upstream listings and a 10,000-change delta, end to end,
each against a same-run `submit_entries` import of the same rows.

    .venv/bin/python benchmarks/bench_federation_pull.py [--n 1000000 | --short] [--changes 10000] [--database-url postgresql://…]

End to end means what `sitealert source pull` does after the download: validate both documents,
create the federated authorities, apply their listings through `submit_entries`/`remove_listings`
(the change log and the aggregated list included), set each listing's upstream version, verify the
result's count and checksum, and store the source's state, in one transaction. The documents are
built in memory (tests/federation/upstream.py), so the network is not measured.

The baseline, on the same database in the same run: the same rows (target, category, listed_at)
submitted with `submit_entries` for one local contributor per upstream authority; for the delta,
the same changed and new rows submitted and the same targets removed with `remove_listings`. The
database is emptied between the baseline and the federation.
"""

import argparse
import gc
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_import import CATEGORIES, WORDS, setup  # noqa: E402

AUTHORITIES = 4
LISTED_AT = "2026-01-02T03:04:05Z"


def target(i):
    return f"{WORDS[i % len(WORDS)]}{i}.{'example' if i % 2 else 'test'}"


def upstream_with(n):
    from tests.federation.upstream import Upstream, authority

    up = Upstream()
    keys = [up.add_authority(authority(f"office-{a}", country=c)) for a, c in zip(range(AUTHORITIES),
                                                                                   ("FR", "IT", "ES", "BR"))]
    for i in range(n):
        up.list(keys[i % AUTHORITIES], target(i), CATEGORIES[i % len(CATEGORIES)])
    return up, keys


def change(up, keys, n, changes):
    """Half the changes recategorize listed targets, a quarter remove some, a quarter add new ones;
    returns (changed or new rows as (authority number, target, category), removed (authority number, target))."""
    rows, removed = [], []
    step = max(1, n // changes)
    picked = [i * step for i in range(changes * 3 // 4)]
    for number, i in enumerate(picked):
        a = i % AUTHORITIES
        if number % 3 == 2:
            up.unlist(keys[a], target(i))
            removed.append((a, target(i)))
        else:
            category = CATEGORIES[(i + 1) % len(CATEGORIES)]
            up.list(keys[a], target(i), category)
            rows.append((a, target(i), category))
    for j in range(changes - len(picked)):
        i = n + j
        a = i % AUTHORITIES
        up.list(keys[a], target(i), CATEGORIES[i % len(CATEGORIES)])
        rows.append((a, target(i), CATEGORIES[i % len(CATEGORIES)]))
    return rows, removed


def timed(call):
    gc.collect()
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def baseline(n, rows, removed):
    """The same rows through submit_entries (and remove_listings) for local contributors."""
    from sitealert.core.actors import Actor
    from sitealert.listings.services import EntryInput, remove_listings, submit_entries
    from sitealert.organizations.services import create_organization

    listed_at = datetime.fromisoformat(LISTED_AT.replace("Z", "+00:00")).astimezone(UTC)
    orgs = [create_organization(kind="contributor", name=f"Local office {a}", country=c, actor=Actor(via="cli"))
            for a, c in zip(range(AUTHORITIES), ("FR", "IT", "ES", "BR"))]
    actors = [Actor(organization=o, via="cli") for o in orgs]

    def initial():
        for a in range(AUTHORITIES):
            report = submit_entries(orgs[a], [EntryInput(target(i), CATEGORIES[i % len(CATEGORIES)],
                                                         listed_at=listed_at)
                                              for i in range(a, n, AUTHORITIES)], actor=actors[a])
            assert report.applied, report.summary

    def delta():
        for a in range(AUTHORITIES):
            mine = [EntryInput(t, c, listed_at=listed_at) for b, t, c in rows if b == a]
            if mine:
                assert submit_entries(orgs[a], mine, actor=actors[a]).applied
            gone = [t for b, t in removed if b == a]
            if gone:
                assert remove_listings(orgs[a], gone, "Removed at its installation", actor=actors[a]).applied

    first, _ = timed(initial)
    second, _ = timed(delta)
    return first, second


class Documents:
    """The upstream's documents, built before the clock starts (the download is not measured)."""

    def __init__(self, up, since):
        self.authorities_document, self.listings_document = up.authorities(), up.listings(since)

    def authorities(self):
        return self.authorities_document

    def listings(self, since):
        return self.listings_document


def federation(up, keys, n, changes):
    from sitealert.federation.models import Source
    from sitealert.federation.pull import pull_from

    source = Source.objects.create(name="upstream", kind=Source.Kind.API, url="https://upstream.test", token="t")
    documents = Documents(up, 0)
    first, result = timed(lambda: pull_from(source, documents))
    assert not result.error and result.added == n, result
    rows, removed = change(up, keys, n, changes)
    documents = Documents(up, source.version)
    second, result = timed(lambda: pull_from(source, documents))
    assert not result.error and not result.full, result
    assert result.removed == len(removed), result
    return first, second, rows, removed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="upstream listings (default 1,000,000)")
    parser.add_argument("--short", action="store_true", help="100,000 upstream listings")
    parser.add_argument("--changes", type=int, default=10_000, help="changes in the delta (default 10,000)")
    parser.add_argument("--database-url", help="PostgreSQL (default: SQLite in a temporary directory)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON too")
    args = parser.parse_args(argv)
    n = 100_000 if args.short else args.n
    setup(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    up, keys = upstream_with(n)
    fed_first, fed_delta, rows, removed = federation(up, keys, n, args.changes)
    call_command("flush", interactive=False, verbosity=0)
    base_first, base_delta = baseline(n, rows, removed)
    results = {
        "database": connection.vendor, "listings": n, "changes": args.changes,
        "initial": {"federation_s": round(fed_first, 2), "submit_entries_s": round(base_first, 2),
                    "ratio": round(base_first / fed_first, 2)},
        "delta": {"federation_s": round(fed_delta, 2), "submit_entries_s": round(base_delta, 2),
                  "ratio": round(base_delta / fed_delta, 2)},
    }
    print(f"{connection.vendor}, {n:,} upstream listings from {AUTHORITIES} authorities")
    print(f"  initial federation: {fed_first:8.2f} s   submit_entries of the same rows: {base_first:8.2f} s   "
          f"({results['initial']['ratio']:.2f}x the baseline's speed)")
    print(f"  delta of {args.changes:,} changes: {fed_delta:8.2f} s   submit_entries + remove_listings: "
          f"{base_delta:8.2f} s   ({results['delta']['ratio']:.2f}x)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
