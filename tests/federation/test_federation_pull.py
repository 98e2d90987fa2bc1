"""Applying an upstream installation's documents: the federated authorities, their listings through
the listing services, verification, and what is refused, on the real database."""

import pytest
from django.utils import timezone

from sitealert.federation import pull as pulling
from sitealert.federation.models import FederatedAuthority, Installation, Source
from sitealert.federation.pull import pull_from
from sitealert.feed.models import FeedEntry, FeedState
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.services import EntryInput, submit_entries
from sitealert.organizations.models import Organization
from sitealert.procedures.models import OperatingProcedure
from tests.conftest import actor
from tests.federation.upstream import Upstream, authority


@pytest.fixture
def source(db):
    return Source.objects.create(name="upstream", kind=Source.Kind.API, url="https://upstream.test", token="t")


@pytest.fixture
def upstream():
    up = Upstream()
    up.add_authority(authority("arcom", name="Arcom", country="FR"))
    return up


def listed(org, status=Listing.Status.ACTIVE):
    return set(Listing.objects.filter(contributor=org, status=status).values_list("target", flat=True))


def arcom():
    return Organization.objects.get(origin=f"{'a' * 32}:arcom")


def test_first_pull_creates_a_read_only_authority_with_its_procedures_and_listings(source, upstream):
    key = "a" * 32 + ":arcom"
    upstream.list(key, "pirate.test")
    upstream.list(key, "stream.test", "streaming-video")
    result = pull_from(source, upstream)
    assert not result.error and result.full and result.added == 2
    org = arcom()
    assert org.is_federated and org.country == "FR" and org.status == Organization.Status.APPROVED
    assert org.origin_installation == "Upstream" and org.review_url.endswith("?target={target}")
    assert FederatedAuthority.objects.get(organization=org).source == source
    assert OperatingProcedure.objects.get(organization=org, language="en").description == "arcom decides"
    assert listed(org) == {"pirate.test", "stream.test"}
    assert set(Listing.objects.filter(contributor=org).values_list("origin_version", flat=True)) == {2, 3}
    source.refresh_from_db()
    assert (source.version, source.epoch, source.upstream_id) == (upstream.version, "e1", "a" * 32)
    assert source.last_success_at is not None and source.last_error == ""
    assert FeedEntry.objects.filter(target="pirate.test").exists()


def test_a_delta_adds_updates_and_removes_and_keeps_the_authority(source, upstream):
    key = "a" * 32 + ":arcom"
    upstream.list(key, "one.test")
    upstream.list(key, "two.test")
    pull_from(source, upstream)
    upstream.list(key, "three.test")
    upstream.list(key, "one.test", "torrent-index")
    upstream.unlist(key, "two.test")
    result = pull_from(source, upstream)
    assert not result.error and not result.full
    assert (result.added, result.updated, result.removed) == (1, 1, 1)
    org = arcom()
    assert listed(org) == {"one.test", "three.test"}
    assert Listing.objects.get(contributor=org, target="one.test").category == "torrent-index"
    removed = Listing.objects.get(contributor=org, target="two.test")
    assert removed.status == Listing.Status.REMOVED and removed.status_reason == "Removed at its installation"
    upstream.unlist(key, "one.test")
    upstream.unlist(key, "three.test")
    assert not pull_from(source, upstream).error
    assert listed(arcom()) == set()
    assert OperatingProcedure.objects.filter(organization=org).exists()  # its procedures stay readable


def test_an_unchanged_upstream_changes_nothing(source, upstream):
    upstream.list("a" * 32 + ":arcom", "one.test")
    pull_from(source, upstream)
    version = FeedState.objects.get(pk=1).version
    result = pull_from(source, upstream)
    assert result.unchanged and not result.error
    assert FeedState.objects.get(pk=1).version == version


def test_a_local_listing_of_the_same_target_is_aggregated_with_the_federated_one(source, upstream, italy):
    submit_entries(italy, [EntryInput("shared.test", "streaming-video")], actor=actor(italy))
    upstream.list("a" * 32 + ":arcom", "shared.test", "torrent-index")
    pull_from(source, upstream)
    entry = FeedEntry.objects.get(target="shared.test")
    assert "FR" in entry.countries and "IT" in entry.countries
    assert "torrent-index" in entry.categories and "streaming-video" in entry.categories


def test_a_protected_target_is_held(source, upstream):
    ProtectedTarget.objects.create(target="protected.test", reason="a bank")
    upstream.list("a" * 32 + ":arcom", "protected.test")
    result = pull_from(source, upstream)
    assert not result.error and result.held == 1
    assert listed(arcom(), Listing.Status.HELD) == {"protected.test"}
    assert not FeedEntry.objects.filter(target="protected.test").exists()


def test_echoes_of_this_installation_are_skipped(source, upstream, italy):
    here = Installation.objects.get_or_create(pk=1)[0].uid
    submit_entries(italy, [EntryInput("mine.test", "torrent-index")], actor=actor(italy))
    echo = upstream.add_authority(authority(italy.slug, installation=here, country="IT"))
    upstream.list(echo, "mine.test", "torrent-index")
    upstream.list("a" * 32 + ":arcom", "theirs.test")
    result = pull_from(source, upstream)
    assert not result.error and result.skipped == 1
    assert not Organization.objects.filter(origin=echo).exists()
    assert listed(italy) == {"mine.test"}
    upstream.list("a" * 32 + ":arcom", "more.test")
    assert not pull_from(source, upstream).error  # a delta verifies with the echo's targets counted


def test_an_authority_another_source_brings_is_skipped(source, upstream):
    first = Source.objects.create(name="first", kind=Source.Kind.API, url="https://first.test")
    key = "a" * 32 + ":arcom"
    upstream.list(key, "one.test")
    assert not pull_from(first, upstream).error
    result = pull_from(source, upstream)
    assert not result.error and result.skipped == 1
    assert FederatedAuthority.objects.get(organization=arcom()).source == first
    assert Listing.objects.filter(target="one.test").count() == 1


def test_a_malformed_document_is_refused_and_nothing_changes(source, upstream):
    key = "a" * 32 + ":arcom"
    upstream.list(key, "one.test")
    pull_from(source, upstream)
    version = FeedState.objects.get(pk=1).version
    upstream.list(key, "two.test")
    good = upstream.listings

    def broken(since):
        document = good(since)
        document["targets"][0]["listings"][0]["category"] = "no-such-category"
        return document

    upstream.listings = broken
    result = pull_from(source, upstream)
    assert "unknown category 'no-such-category'" in result.error
    source.refresh_from_db()
    assert source.last_error == result.error and source.last_error_at is not None
    assert source.version == 2 and FeedState.objects.get(pk=1).version == version
    assert listed(arcom()) == {"one.test"}
    upstream.listings = good
    assert not pull_from(source, upstream).error
    source.refresh_from_db()
    assert source.last_error == "" and listed(arcom()) == {"one.test", "two.test"}


@pytest.mark.parametrize("damage, says", [
    (lambda d: d.update(checksum="sha256:" + "0" * 64), "count and checksum"),
    (lambda d: d.pop("epoch"), "epoch is missing"),
    (lambda d: d["targets"][0]["listings"][0].update(authority="b" * 32 + ":nobody"), "does not describe"),
    (lambda d: d.update(version="7"), "version is not a version number"),
])
def test_each_malformed_listings_document_is_named(source, upstream, damage, says):
    upstream.list("a" * 32 + ":arcom", "one.test")
    good = upstream.listings
    upstream.listings = lambda since: (lambda d: (damage(d), d)[1])(good(since))
    result = pull_from(source, upstream)
    assert says in result.error
    assert not Organization.objects.filter(origin__startswith="a" * 32).exists() or listed(arcom()) == set()


def test_a_410_or_a_new_epoch_reads_everything(source, upstream):
    key = "a" * 32 + ":arcom"
    upstream.list(key, "one.test")
    pull_from(source, upstream)
    upstream.list(key, "two.test")
    upstream.oldest = upstream.version + 1
    result = pull_from(source, upstream)
    assert result.full and not result.error and listed(arcom()) == {"one.test", "two.test"}
    upstream.epoch = "e2"
    upstream.unlist(key, "one.test")
    upstream.touched.clear()  # a reset list's history does not reach the old versions
    result = pull_from(source, upstream)
    assert result.full and not result.error and listed(arcom()) == {"two.test"}


def test_a_delta_that_does_not_verify_reads_everything_once(source, upstream):
    key = "a" * 32 + ":arcom"
    upstream.list(key, "one.test")
    upstream.list(key, "two.test")
    pull_from(source, upstream)
    upstream.unlist(key, "two.test")
    upstream.touched.pop("two.test")  # the delta forgets a removal: the checksum tells
    result = pull_from(source, upstream)
    assert result.full and not result.error and listed(arcom()) == {"one.test"}


def test_an_exception_in_the_middle_leaves_nothing(source, upstream, monkeypatch):
    upstream.add_authority(authority("cnil", country="FR"))
    upstream.list("a" * 32 + ":arcom", "one.test")
    upstream.list("a" * 32 + ":cnil", "two.test")
    calls = []
    real = pulling._set_origin_versions

    def crash(org, versions):
        calls.append(org)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        real(org, versions)

    monkeypatch.setattr(pulling, "_set_origin_versions", crash)
    with pytest.raises(RuntimeError):
        pull_from(source, upstream)
    assert not Organization.objects.filter(origin__startswith="a" * 32).exists()
    assert not Listing.objects.exists() and not FeedEntry.objects.exists()
    source.refresh_from_db()
    assert source.version == 0 and source.last_success_at is None


def test_staleness_follows_the_interval(source):
    now = timezone.now()
    source.every = 3600
    source.created_at = now - timezone.timedelta(hours=7)
    assert pulling.is_stale(source, now)
    source.last_success_at = now - timezone.timedelta(hours=2)
    assert not pulling.is_stale(source, now)


def test_a_procedure_changed_upstream_arrives_without_a_new_version(source, upstream):
    upstream.list("a" * 32 + ":arcom", "one.test")
    pull_from(source, upstream)
    upstream.authorities_by_key["a" * 32 + ":arcom"]["procedures"]["fr"] = {
        "description": "Arcom décide", "contact": "c", "criteria": "k", "procedure": "p", "appeal": ""}
    upstream.authorities_by_key["a" * 32 + ":arcom"]["name"] = "Arcom (France)"
    result = pull_from(source, upstream)
    assert result.unchanged and not result.error
    org = arcom()
    assert org.name == "Arcom (France)"
    assert OperatingProcedure.objects.get(organization=org, language="fr").description == "Arcom décide"


# --- Verifying a delta without reading every target back ------------------------------------------

def whole_reads(monkeypatch):
    """Count the verifications that read this source's targets back from the database whole."""
    calls = []
    real = pulling._listed_here

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pulling, "_listed_here", counted)
    return calls


def kept(source):
    source.refresh_from_db()
    head, _newline, body = pulling.targets_path(source).read_bytes().partition(b"\n")
    return body.decode().splitlines()


def test_a_delta_is_verified_against_the_kept_targets_without_reading_them_all(source, upstream, monkeypatch):
    key = "a" * 32 + ":arcom"
    for target in ("b.test", "d.test", "f.test"):
        upstream.list(key, target)
    pull_from(source, upstream)
    assert kept(source) == ["b.test", "d.test", "f.test"]
    reads = whole_reads(monkeypatch)
    upstream.list(key, "a.test")
    upstream.unlist(key, "d.test")
    upstream.list(key, "f.test", "torrent-index")
    result = pull_from(source, upstream)
    assert not result.error and not result.full and (result.added, result.removed, result.updated) == (1, 1, 1)
    assert reads == [] and kept(source) == ["a.test", "b.test", "f.test"]
    assert listed(arcom()) == {"a.test", "b.test", "f.test"}


def test_a_delta_that_forgets_a_removal_is_caught_by_the_kept_targets(source, upstream, monkeypatch):
    key = "a" * 32 + ":arcom"
    upstream.list(key, "one.test")
    upstream.list(key, "two.test")
    pull_from(source, upstream)
    upstream.unlist(key, "two.test")
    upstream.touched.pop("two.test")  # the checksum and count say so; the targets do not
    result = pull_from(source, upstream)
    assert result.full and not result.error and listed(arcom()) == {"one.test"}
    assert kept(source) == ["one.test"]


@pytest.mark.parametrize("damage", [
    lambda path: path.write_bytes(path.read_bytes().replace(b"one.test", b"0ne.test")),  # bytes not of the checksum
    lambda path: path.write_bytes(b"not json\none.test\n"),
    lambda path: path.unlink(),
])
def test_damaged_or_missing_kept_targets_mean_a_whole_read_that_keeps_them_again(source, upstream, monkeypatch,
                                                                                 damage):
    key = "a" * 32 + ":arcom"
    upstream.list(key, "one.test")
    pull_from(source, upstream)
    damage(pulling.targets_path(source))
    reads = whole_reads(monkeypatch)
    upstream.list(key, "two.test")
    result = pull_from(source, upstream)
    assert not result.error and not result.full and len(reads) == 1
    assert kept(source) == ["one.test", "two.test"]


def test_the_database_is_read_whole_again_after_a_day_and_a_local_difference_is_repaired(source, upstream,
                                                                                          monkeypatch):
    key = "a" * 32 + ":arcom"
    upstream.list(key, "one.test")
    upstream.list(key, "two.test")
    pull_from(source, upstream)
    # Something outside federation removed an untouched federated listing: a delta that does not
    # touch it cannot see that, the daily whole read does, and the complete read that follows repairs it.
    Listing.objects.filter(contributor=arcom(), target="two.test").update(status=Listing.Status.REMOVED)
    upstream.list(key, "three.test")
    assert not pull_from(source, upstream).full
    assert listed(arcom()) == {"one.test", "three.test"}
    reads = whole_reads(monkeypatch)
    monkeypatch.setattr(pulling.time, "time", lambda real=pulling.time.time: real() + pulling.FULL_READ_EVERY + 60)
    upstream.list(key, "four.test")
    result = pull_from(source, upstream)
    assert result.full and not result.error and len(reads) == 2
    assert listed(arcom()) == {"one.test", "two.test", "three.test", "four.test"}


def test_a_removed_source_keeps_no_targets(source, upstream):
    from sitealert.core.actors import Actor
    from sitealert.federation.sources import remove_source

    upstream.list("a" * 32 + ":arcom", "one.test")
    pull_from(source, upstream)
    path = pulling.targets_path(source)
    assert path.exists()
    remove_source(source, actor=Actor(via="cli"), purge=True)
    assert not path.exists()
