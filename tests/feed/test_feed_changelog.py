"""The change-log writer: after any history, the entries are the aggregate of the active listings,
and replaying the change log from nothing gives the same entries."""

import importlib
import random
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection, transaction

from sitealert.core.actors import Actor
from sitealert.feed.models import Change, FeedEntry, FeedState
from sitealert.listings.changelog import refresh_targets
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.services import (
    EntryInput,
    hold_listing,
    release_listing,
    remove_listings,
    submit_entries,
)
from sitealert.organizations.services import create_organization

pytestmark = pytest.mark.django_db

NAMES = [f"n{i}.example" for i in range(12)] + ["android:com.example.app", "cdn.protected.example"]
CATEGORIES = ["streaming-video", "cyberlocker", "other"]


def aggregate_of_listings():
    """The aggregated list computed the obvious way, from the ORM."""
    found = {}
    for listing in Listing.objects.filter(status="active").select_related("contributor"):
        kind, countries, categories, who, first = found.get(
            listing.target, (listing.kind, set(), set(), set(), listing.listed_at))
        countries.add(listing.contributor.country)
        categories.add(listing.category)
        who.add(f"{listing.contributor_id}:{listing.category}")
        found[listing.target] = (kind, countries, categories, who, min(first, listing.listed_at))
    return {t: (kind, ",".join(sorted(c)), ",".join(sorted(cat)), ",".join(sorted(who)), first)
            for t, (kind, c, cat, who, first) in found.items()}


def published():
    return {e.target: (e.kind, e.countries, e.categories, e.contributors, e.first_listed_at)
            for e in FeedEntry.objects.all()}


def replayed():
    entries = {}
    for change in Change.objects.order_by("seq"):
        if change.listed:
            entries[change.target] = (change.kind, change.countries, change.categories, change.contributors,
                                      change.first_listed_at)
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



def test_an_authority_removing_a_target_another_of_its_country_and_category_lists_writes_a_change(italy):
    """Countries and categories stay the same, but who lists the target changed: a subscriber to
    this installation must learn it, or it would keep attributing the target to the first."""
    second = create_organization(kind="contributor", name="Guardia di Finanza", country="IT", actor=Actor(via="cli"))
    for org in (italy, second):
        submit_entries(org, [EntryInput(target="shared.example", category="streaming-video")],
                       actor=Actor(organization=org))
    entry = FeedEntry.objects.get(target="shared.example")
    assert entry.contributors == ",".join(sorted([f"{italy.id}:streaming-video", f"{second.id}:streaming-video"]))
    before = FeedState.objects.get().version

    remove_listings(italy, ["shared.example"], "annulled", actor=Actor(organization=italy))

    change = Change.objects.get(seq=before + 1)
    assert (change.target, change.listed, change.countries, change.categories, change.contributors) == \
        ("shared.example", True, "IT", "streaming-video", f"{second.id}:streaming-video")
    assert FeedState.objects.get().version == before + 1
    assert published() == aggregate_of_listings() == replayed()


def test_an_import_of_new_targets_records_its_contributor(italy):
    """The fast path of a first import (targets no one lists yet) writes the contributors too."""
    submit_entries(italy, [EntryInput(target=f"new{i}.example", category="cyberlocker") for i in range(3)],
                   actor=Actor(organization=italy))
    assert set(FeedEntry.objects.values_list("contributors", flat=True)) == {f"{italy.id}:cyberlocker"}
    assert published() == aggregate_of_listings() == replayed()


def test_the_upgrade_fills_contributors_as_the_writer_would(italy, korea):
    """The data migration gives existing entries the writer's contributors, so the first refresh
    after an upgrade finds nothing to change."""
    submit_entries(italy, [EntryInput(target=n, category="other") for n in ("a.example", "b.example", "c.example")],
                   actor=Actor(organization=italy))
    submit_entries(korea, [EntryInput(target="b.example", category="cyberlocker"),
                           EntryInput(target="c.example", category="other")], actor=Actor(organization=korea))
    remove_listings(italy, ["c.example"], "annulled", actor=Actor(organization=italy))
    written = published()
    FeedEntry.objects.update(contributors="")
    migration = importlib.import_module("sitealert.feed.migrations.0004_contributors")

    migration.fill_contributors(django_apps, SimpleNamespace(quote_name=connection.ops.quote_name,
                                                             connection=connection))

    assert published() == written
    version = FeedState.objects.get().version
    with transaction.atomic():
        assert refresh_targets(["a.example", "b.example", "c.example"]) == version
