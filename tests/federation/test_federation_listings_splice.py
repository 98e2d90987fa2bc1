"""The full listings document of a new version, spliced from the previous version's, has the bytes
of a build from the database, and those of the document written the obvious way (json.dumps of
the listings read through the ORM); the worker builds it ahead of the subscribers that read it."""

import gzip
import json
import os
import random
from collections import defaultdict
from datetime import UTC

import pytest
from django.db import transaction

from sitealert.core import maintenance
from sitealert.core.actors import Actor
from sitealert.federation import documents
from sitealert.federation.models import FederatedAuthority, Installation, Source
from sitealert.feed import builder, cache
from sitealert.feed.models import Change, FeedEntry
from sitealert.listings.changelog import refresh_targets
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.services import EntryInput, hold_listing, remove_listings, submit_entries
from sitealert.organizations.models import Organization
from tests.api.conftest import independent_checksum

pytestmark = pytest.mark.django_db

# Prefixes of one another and neighbours in byte order, where a wrong comparison would show.
NAMES = ["a.example", "a-b.example", "a.example.test", "ab.example", "a_b.sub.example", "b.example",
         "x.a.example", "android:com.Example.App", "android:com.example", "android:com.example.app",
         "ios:1", "ios:12", "ios:2", "z9.test", "xn--bcher-kva.example", "hold.cdn.example"]
CATEGORIES = ["streaming-video", "cyberlocker", "other"]


def obvious(since=0):
    """The listings document written the obvious way, from the ORM: what a subscriber must get."""
    uid = Installation.objects.get_or_create(pk=1)[0].uid
    withheld = documents.withheld_authorities()
    keys = {o.id: o.origin or f"{uid}:{o.slug}" for o in Organization.objects.all()}
    state = builder.feed_state()
    entries = {e.target: e for e in FeedEntry.objects.all()}
    listed = defaultdict(list)
    for listing in Listing.objects.filter(status="active").exclude(contributor_id__in=withheld).order_by(
            "contributor_id"):
        listed[listing.target].append(listing)
    published = sorted(listed, key=lambda t: t.encode())
    kinds = {t: entries[t].kind for t in published}
    targets = published
    if since:
        kinds = {}
        for change in Change.objects.filter(seq__gt=since, seq__lte=state.version):
            kinds[change.target] = min(kinds.get(change.target, change.kind), change.kind)
        targets = sorted(kinds, key=lambda t: t.encode())
    document = {"installation": uid, "since": since, "version": state.version, "epoch": state.epoch,
                "checksum": independent_checksum(published), "count": len(published),
                "targets": [{"target": t, "kind": kinds[t], "listings": [
                    {"authority": keys[x.contributor_id], "category": x.category,
                     "listed_at": x.listed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "version": entries[t].version} for x in listed.get(t, [])]} for t in targets],
                "more": False}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def served(since=0):
    """The listings document's bytes as served, after checking its gzip twin."""
    with documents.open_document("listings", since).file as f:
        plain = f.read()
    with documents.open_document("listings", since, gzipped=True).file as f:
        assert gzip.decompress(f.read()) == plain
    return plain


def federation_files():
    directory = cache.epoch_directory(builder.feed_state().epoch)
    return directory, sorted(name for name in os.listdir(directory) if name.startswith("federation-"))


def built_from_the_database():
    """The current full document built with no earlier document to splice from."""
    directory, names = federation_files()
    for name in names:
        os.remove(os.path.join(directory, name))
    return served()


@pytest.fixture
def reads(monkeypatch):
    """The `since` of each listings read from the database: 0 for a build of the whole document."""
    calls = []
    original = documents._listing_rows

    def counting(since, version, withheld):
        calls.append(since)
        return original(since, version, withheld)

    monkeypatch.setattr(documents, "_listing_rows", counting)
    return calls


@pytest.fixture
def france(db):
    source = Source.objects.create(name="up", kind="api", url="https://up.example/")
    org = Organization.objects.create(kind="contributor", status="approved", name="Arcom", slug="arcom", country="FR",
                                      origin="f" * 32 + ":arcom", origin_installation="Upstream",
                                      origin_url="https://up.example/procedures/arcom/",
                                      review_url="https://up.example/review-requests/new/?target={target}")
    FederatedAuthority.objects.create(organization=org, source=source, installation_id="f" * 32)
    return org


def carry(org, targets, category="other"):
    """Listings of a federated authority added, changed or relisted as a pull leaves them."""
    with transaction.atomic():
        for target in targets:
            Listing.objects.update_or_create(contributor=org, target=target, defaults={
                "kind": "app" if target.startswith(("android:", "ios:")) else "domain", "category": category,
                "status": "active", "origin_version": 1})
        refresh_targets(targets)


def drop(org, targets):
    with transaction.atomic():
        Listing.objects.filter(contributor=org, target__in=targets).update(status="removed")
        refresh_targets(targets)


def test_random_histories_splice_to_the_bytes_of_a_build_from_the_database(italy, korea, france, olga, reads):
    ProtectedTarget.objects.create(target="cdn.example")
    operator = Actor(user=olga, organization=olga.membership.organization)
    source = france.federation.source
    rng = random.Random(20261206)
    switches = 0
    carry(france, NAMES[:3])
    assert served() == obvious()
    for step in range(60):
        before = builder.current_version()
        org = rng.choice([italy, korea, france])
        names = rng.sample(NAMES, rng.randint(1, 5))
        action = rng.random()
        if org == france:
            if action < 0.6:
                carry(france, names, rng.choice(CATEGORIES))  # additions and recategorizations
            elif action < 0.9:
                drop(france, names)
            else:  # its authority withheld, or published again
                switches += 1
                Source.objects.filter(pk=source.pk).update(republish=not Source.objects.get(pk=source.pk).republish)
        elif action < 0.55:
            submit_entries(org, [EntryInput(target=n, category=rng.choice(CATEGORIES), reference=f"r{step}")
                                 for n in names], actor=Actor(organization=org, via="api"), accept_valid_rows=True)
        elif action < 0.9:
            remove_listings(org, names, "annulled", actor=Actor(organization=org, via="api"),
                            accept_valid_rows=True)
        else:
            active = Listing.objects.filter(status="active").exclude(contributor=france).first()
            if active is not None:
                hold_listing(active, "review", actor=operator)
        spliced = served()
        assert spliced == obvious(), step
        assert served(before) == obvious(before), step
        if step % 10 == 9:
            assert built_from_the_database() == spliced, step
    # Read whole: the first document, the six checks, and after each switch of the withheld set.
    assert reads.count(0) <= 1 + 6 + switches, reads
    assert len(reads) - reads.count(0) > 30  # every other version was spliced


def test_a_target_gaining_and_losing_an_authority_and_a_withheld_authority(italy, korea, france, list_targets,
                                                                          as_actor, reads):
    list_targets(italy, ["shared.example", "solo.example", "app.example"])
    carry(france, ["shared.example", "fr.example"])
    assert served() == obvious()
    list_targets(korea, ["shared.example"], category="torrent-index")  # a second, then a third authority
    assert served() == obvious()
    remove_listings(italy, ["shared.example"], "annulled", actor=as_actor(italy))  # one of three leaves
    assert served() == obvious()
    list_targets(korea, ["shared.example"], category="cyberlocker")  # recategorized
    assert served() == obvious()
    spliced_until_now = reads.count(0)
    source = france.federation.source
    Source.objects.filter(pk=source.pk).update(republish=False)
    withheld = served()
    assert withheld == obvious() and b"fr.example" not in withheld
    drop(france, ["shared.example"])
    list_targets(italy, ["new.example"])
    assert served() == obvious() == built_from_the_database()
    Source.objects.filter(pk=source.pk).update(republish=True)
    assert served() == obvious()
    remove_listings(italy, ["solo.example", "app.example", "new.example"], "annulled", actor=as_actor(italy))
    remove_listings(korea, ["shared.example"], "annulled", actor=as_actor(korea))
    drop(france, ["fr.example"])
    assert served() == obvious()
    assert json.loads(served())["targets"] == []
    list_targets(italy, ["again.example"])
    assert served() == obvious()
    assert reads.count(0) == spliced_until_now + 3  # the switches (withheld, published) and the check


def test_a_changed_authority_key_means_a_build_from_the_database(italy, list_targets, reads):
    list_targets(italy, ["a.example"])
    served()
    Organization.objects.filter(pk=italy.pk).update(slug="agcom-renamed")
    list_targets(italy, ["b.example"])
    assert served() == obvious()
    assert reads == [0, 0]


def test_pruned_history_or_too_many_changes_mean_a_build_from_the_database(italy, list_targets, reads, monkeypatch):
    from django.utils import timezone

    from sitealert.listings.changelog import prune_history

    list_targets(italy, ["a.example"])
    served()
    list_targets(italy, ["b.example"])
    prune_history(timezone.now() + timezone.timedelta(seconds=1))
    assert served() == obvious()
    monkeypatch.setattr(builder, "SPLICE_MAX_CHANGES", 1)
    list_targets(italy, ["c.example", "d.example"])
    assert served() == obvious()
    list_targets(italy, ["e.example"])
    assert served() == obvious()
    assert len(reads) == 4 and reads[:3] == [0, 0, 0] and reads[3] != 0  # the last one spliced


def test_a_delta_built_first_leaves_the_full_document_to_splice_from(italy, korea, list_targets, reads):
    first = list_targets(italy, ["a.example", "b.example"]).version
    served()
    list_targets(korea, ["b.example", "c.example"])
    delta = json.loads(served(first))
    assert [t["target"] for t in delta["targets"]] == ["b.example", "c.example"]
    assert served() == obvious()
    assert reads == [0, first, first]  # the delta, then the full document spliced from the same changes


def test_binary_search_in_a_larger_document(italy, korea, as_actor, list_targets, reads):
    rng = random.Random(7)
    names = sorted({f"{rng.choice(['a', 'ab', 'a-b', 'b', 'x'])}{rng.randint(0, 9999)}"
                    f"{rng.choice(['', '.sub', '-x'])}.{rng.choice(['example', 'test'])}" for _ in range(3000)})
    list_targets(italy, names)
    served()
    for step in range(4):
        gone = rng.sample(names, 40)
        remove_listings(italy, gone, "annulled", actor=as_actor(italy), accept_valid_rows=True)
        fresh = [f"n{step}-{i}.{rng.choice(['example', 'test'])}" for i in range(40)] + rng.sample(names, 10)
        list_targets(korea, fresh, category="cyberlocker")
        assert served() == obvious(), step
    assert reads.count(0) == 1


def test_the_worker_builds_the_new_version_for_the_subscribers_that_read_it_here(italy, list_targets, reads):
    assert "federation.warm" in [name for name, _interval, _task in maintenance.TASKS]
    list_targets(italy, ["a.example"])
    documents.warm()
    assert federation_files()[1] == [] and reads == []  # nobody reads them here: nothing built

    served()
    version = list_targets(italy, ["b.example"]).version
    documents.warm()
    directory, names = federation_files()
    withheld = documents.withheld_key([])
    assert {f"federation-listings-0-{version}-{withheld}.json.gz",
            f"federation-authorities-{version}-{withheld}.json.gz"} <= set(names)
    assert reads == [0, version - 1]  # the first request's build; the worker's splice
    assert served() == obvious() and reads == [0, version - 1]  # the subscriber reads a file
