"""The change-log writer: after any history, the entries are the aggregate of the active listings,
and replaying the change log from nothing gives the same entries."""

import random

import pytest

from sitealert.core.actors import Actor
from sitealert.feed.models import Change, FeedEntry, FeedState
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.services import (
    EntryInput,
    hold_listing,
    release_listing,
    remove_listings,
    submit_entries,
)

pytestmark = pytest.mark.django_db

NAMES = [f"n{i}.example" for i in range(12)] + ["android:com.example.app", "cdn.protected.example"]
CATEGORIES = ["streaming-video", "cyberlocker", "other"]


def aggregate_of_listings():
    """The aggregated list computed the obvious way, from the ORM."""
    found = {}
    for listing in Listing.objects.filter(status="active").select_related("contributor"):
        kind, countries, categories, first = found.get(listing.target, (listing.kind, set(), set(), listing.listed_at))
        countries.add(listing.contributor.country)
        categories.add(listing.category)
        found[listing.target] = (kind, countries, categories, min(first, listing.listed_at))
    return {t: (kind, ",".join(sorted(c)), ",".join(sorted(cat)), first)
            for t, (kind, c, cat, first) in found.items()}


def published():
    return {e.target: (e.kind, e.countries, e.categories, e.first_listed_at) for e in FeedEntry.objects.all()}


def replayed():
    entries = {}
    for change in Change.objects.order_by("seq"):
        if change.listed:
            entries[change.target] = (change.kind, change.countries, change.categories, change.first_listed_at)
        else:
            entries.pop(change.target, None)
    return entries


def test_random_histories_keep_entries_equal_to_the_aggregate_and_the_log(italy, korea, olga):
    ProtectedTarget.objects.create(target="protected.example")
    operator = Actor(user=olga, organization=olga.membership.organization)
    rng = random.Random(7)
    last_version = 0
    for step in range(60):
        org = rng.choice([italy, korea])
        actor = Actor(organization=org, via="api")
        names = rng.sample(NAMES, rng.randint(1, 8))
        action = rng.random()
        if action < 0.6:
            submit_entries(org, [EntryInput(target=n, category=rng.choice(CATEGORIES), reference=f"r{step % 3}")
                                 for n in names], actor=actor, accept_valid_rows=True)
        elif action < 0.85:
            remove_listings(org, names, "annulled", actor=actor, accept_valid_rows=True)
        elif action < 0.93:
            active = Listing.objects.filter(status="active").order_by("?").first()
            if active is not None:
                hold_listing(active, "review", actor=operator)
        else:
            held = Listing.objects.filter(status="held").first()
            if held is not None:
                release_listing(held, actor=operator)
        assert published() == aggregate_of_listings(), step
        assert replayed() == published(), step
        version = FeedState.objects.get().version
        assert version >= last_version
        assert list(Change.objects.filter(seq__gt=last_version).values_list("seq", flat=True).order_by("seq")) == \
            list(range(last_version + 1, version + 1))
        last_version = version


def test_a_second_contributor_adding_a_published_target_merges_into_its_entry(italy, korea):
    submit_entries(italy, [EntryInput(target="shared.example", category="other")], actor=Actor(organization=italy))
    submit_entries(korea, [EntryInput(target="shared.example", category="cyberlocker"),
                           EntryInput(target="only-korea.example", category="other")], actor=Actor(organization=korea))
    entry = FeedEntry.objects.get(target="shared.example")
    assert (entry.countries, entry.categories) == (",".join(sorted([italy.country, korea.country])),
                                                   "cyberlocker,other")
    assert FeedEntry.objects.get(target="only-korea.example").countries == korea.country
    assert published() == aggregate_of_listings() == replayed()
