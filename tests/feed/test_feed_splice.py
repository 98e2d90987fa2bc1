"""A version built by splicing changes into the previous document equals a build from scratch."""

import gzip
import random

import pytest

from sitealert.core.actors import Actor
from sitealert.feed import builder
from sitealert.feed.render import Renderer, checksum_of, render
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.services import EntryInput, hold_listing, remove_listings, submit_entries

pytestmark = pytest.mark.django_db

# Prefixes of one another and neighbours in byte order, where a wrong comparison would show.
NAMES = ["a.example", "a-b.example", "a.example.test", "ab.example", "a_b.sub.example", "b.example",
         "x.a.example", "android:com.Example.App", "android:com.example", "android:com.example.app",
         "ios:1", "ios:12", "ios:2", "z9.test", "xn--bcher-kva.example", "hold.cdn.example"]
CATEGORIES = ["streaming-video", "cyberlocker", "other"]


def from_scratch(fmt):
    """The document rendered the obvious way: rows sorted by target, each rendered in that order."""
    with builder.consistent_read() as (version, _):
        rows = builder._sorted_rows()
    targets = [row[0] for row in rows]
    renderer = Renderer()
    records = {"json": renderer.json_entries, "csv": renderer.csv_lines, "txt": lambda rows: targets}[fmt](rows)
    return "".join(render(fmt, version, checksum_of(targets), records)).encode()


@pytest.fixture
def full_builds(monkeypatch):
    """Counts builds from the database's rows."""
    calls = []
    original = builder._write_from_scratch

    def counting(directory, fmt, version, gzipped):
        calls.append(fmt)
        return original(directory, fmt, version, gzipped)

    monkeypatch.setattr(builder, "_write_from_scratch", counting)
    return calls


def test_random_histories_splice_to_the_same_bytes(italy, korea, olga, full_builds):
    ProtectedTarget.objects.create(target="cdn.example")
    operator = Actor(user=olga, organization=olga.membership.organization)
    rng = random.Random(20261122)
    for fmt in builder.FORMATS:
        builder.cached_feed(fmt)
    for step in range(40):
        org = rng.choice([italy, korea])
        actor = Actor(organization=org, via="api")
        action = rng.random()
        names = rng.sample(NAMES, rng.randint(1, 5))
        if action < 0.55:
            submit_entries(org, [EntryInput(target=n, category=rng.choice(CATEGORIES), reference=f"r{step}")
                                 for n in names], actor=actor, accept_valid_rows=True)
        elif action < 0.9:
            remove_listings(org, names, "annulled", actor=actor, accept_valid_rows=True)
        else:
            active = Listing.objects.filter(status="active").first()
            if active is not None:
                hold_listing(active, "review", actor=operator)
        for fmt in builder.FORMATS:
            spliced = builder.cached_feed(fmt)[2]
            assert gzip.decompress(builder.cached_feed(fmt, gzipped=True)[2]) == spliced
            assert spliced == from_scratch(fmt), (step, fmt)
    assert full_builds == ["json", "csv"]  # the first documents (txt comes with json); later ones are spliced


def test_emptied_and_refilled(italy, as_actor, list_targets, full_builds):
    list_targets(italy, ["a.example", "b.example"])
    builder.cached_feed("json")
    remove_listings(italy, ["a.example", "b.example"], "closed", actor=as_actor(italy))
    assert builder.cached_feed("json")[2] == from_scratch("json")
    assert builder.cached_feed("csv")[2] == from_scratch("csv")
    list_targets(italy, ["c.example"])
    assert builder.cached_feed("json")[2] == from_scratch("json")
    assert builder.cached_feed("txt")[2] == b"c.example\n"


def test_pruned_history_means_a_build_from_scratch(italy, list_targets, full_builds):
    from django.utils import timezone

    from sitealert.listings.changelog import prune_history

    list_targets(italy, ["a.example"])
    builder.cached_feed("json")
    list_targets(italy, ["b.example"])
    prune_history(timezone.now() + timezone.timedelta(seconds=1))
    calls = len(full_builds)
    assert builder.cached_feed("json")[2] == from_scratch("json")
    assert len(full_builds) == calls + 1


def test_too_many_changes_mean_a_build_from_scratch(italy, list_targets, full_builds, monkeypatch):
    list_targets(italy, ["a.example"])
    builder.cached_feed("csv")
    monkeypatch.setattr(builder, "SPLICE_MAX_CHANGES", 1)
    list_targets(italy, ["b.example", "c.example"])
    calls = len(full_builds)
    assert builder.cached_feed("csv")[2] == from_scratch("csv")
    assert len(full_builds) == calls + 1


def test_binary_search_in_a_larger_document(italy, korea, as_actor, list_targets, full_builds):
    rng = random.Random(7)
    names = sorted({f"{rng.choice(['a', 'ab', 'a-b', 'b', 'x'])}{rng.randint(0, 9999)}"
                    f"{rng.choice(['', '.sub', '-x'])}.{rng.choice(['example', 'test'])}" for _ in range(3000)})
    list_targets(italy, names)
    for fmt in builder.FORMATS:
        builder.cached_feed(fmt)
    for step in range(4):
        gone = rng.sample(names, 40)
        remove_listings(italy, gone, "annulled", actor=as_actor(italy), accept_valid_rows=True)
        fresh = [f"n{step}-{i}.{rng.choice(['example', 'test'])}" for i in range(40)] + rng.sample(names, 10)
        list_targets(korea, fresh, category="cyberlocker")
        for fmt in builder.FORMATS:
            assert builder.cached_feed(fmt)[2] == from_scratch(fmt), (step, fmt)
    assert full_builds.count("json") == 1 and full_builds.count("csv") == 1
