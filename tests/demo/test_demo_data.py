"""The fictional demo data: loaded once, through the services, under reserved names only."""

import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.utils import timezone

import sitealert.demo
from sitealert.core.actors import Actor
from sitealert.core.models import AuditEvent, AuditItem
from sitealert.demo.data import demo_logins, load_demo_data
from sitealert.feed.models import Change, FeedEntry
from sitealert.listings.csv_import import import_csv
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.protection import ProtectedIndex
from sitealert.monitoring.models import HoppingCandidate, ProbeTarget, RedirectEdge, Status, StatusPeriod
from sitealert.monitoring.services import stale_listings
from sitealert.organizations.models import Organization
from sitealert.procedures.models import OperatingProcedure

RESERVED_DOMAIN = re.compile(r"^([a-z0-9-]+\.)+(example|test)$")
APP = re.compile(r"^(android:[a-z][a-z0-9_]*(\.[a-z0-9_]+)+|ios:\d+)$")
SIX_LANGUAGES = {"ar", "zh-hans", "en", "fr", "ru", "es"}


@pytest.fixture(scope="module")
def demo_loaded(django_db_setup, django_db_blocker):
    """Loading the demo takes seconds (it records months of monitoring history through the worker's
    own code), so the module loads it once, committed; each test runs in a transaction rolled back
    after it, and the module leaves an empty database behind."""
    with django_db_blocker.unblock():
        loaded = load_demo_data()
    yield loaded
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture
def demo(demo_loaded, db):
    return demo_loaded


def counts():
    return {model.__name__: model.objects.count()
            for model in (Organization, get_user_model(), OperatingProcedure, ProtectedTarget, Listing,
                          FeedEntry, Change, AuditEvent)}


def test_second_load_creates_nothing_and_returns_the_same_logins(demo):
    created, logins = demo
    before = counts()
    again, logins_again = load_demo_data()
    assert created is True and again is False
    assert logins_again == logins
    assert counts() == before


def test_every_printed_login_works(demo):
    _, logins = demo
    roles = " ".join(role for role, _, _ in logins)
    assert "operator" in roles and "contributor" in roles and "authorized user" in roles
    for role, username, password in logins:
        assert len(password) >= 10
        user = authenticate(username=username, password=password)
        assert user is not None, role
        assert user.membership.organization.is_active
    staff = [username for role, username, _ in logins if "operator" in role]
    assert get_user_model().objects.get(username=staff[0]).is_staff


def test_every_name_is_fictional(demo):
    for target in Listing.objects.values_list("target", flat=True):
        assert RESERVED_DOMAIN.match(target) or APP.match(target), target
    for target in ProtectedTarget.objects.values_list("target", flat=True):
        assert RESERVED_DOMAIN.match(target), target
    for email in get_user_model().objects.values_list("email", flat=True):
        assert RESERVED_DOMAIN.match(email.split("@")[1]), email
    for contact in OperatingProcedure.objects.values_list("contact", flat=True):
        for email in re.findall(r"[\w.-]+@([\w.-]+)", contact):
            assert RESERVED_DOMAIN.match(email), contact
    for org in Organization.objects.all():
        assert "Demo" in org.name


def test_contributors_from_several_countries_with_a_full_feed(demo):
    contributors = Organization.objects.filter(kind=Organization.Kind.CONTRIBUTOR)
    assert len({org.country for org in contributors}) >= 5
    assert Organization.objects.filter(kind=Organization.Kind.USER).exists()
    assert Organization.objects.filter(kind=Organization.Kind.OPERATOR).exists()
    assert Listing.objects.count() >= 200
    assert FeedEntry.objects.count() >= 200
    assert len(set(FeedEntry.objects.values_list("categories", flat=True))) >= 8
    assert FeedEntry.objects.filter(countries__contains=",").exists(), "no target listed by two countries"
    apps = set(FeedEntry.objects.filter(kind="app").values_list("target", flat=True))
    assert any(t.startswith("android:") for t in apps) and any(t.startswith("ios:") for t in apps)


def test_removed_listings_leave_tombstones(demo):
    removed = set(Listing.objects.filter(status=Listing.Status.REMOVED).values_list("target", flat=True))
    tombstones = set(Change.objects.filter(listed=False).values_list("target", flat=True))
    assert tombstones and tombstones <= removed
    assert not FeedEntry.objects.filter(target__in=tombstones).exists()
    assert all(Listing.objects.filter(target=t, status=Listing.Status.REMOVED).exclude(status_reason="").exists()
               for t in tombstones)


def test_the_held_listing_overlaps_a_protected_target_and_is_not_published(demo):
    held = Listing.objects.get(status=Listing.Status.HELD)
    assert ProtectedIndex().conflict(held.target) is not None
    assert held.held_for == ProtectedIndex().conflict(held.target) and held.target in held.reason_text
    assert not FeedEntry.objects.filter(target=held.target).exists()
    assert not Change.objects.filter(target=held.target).exists()


def test_one_contributor_publishes_its_procedure_in_all_six_languages(demo):
    by_org = {}
    for org_id, language in OperatingProcedure.objects.values_list("organization_id", "language"):
        by_org.setdefault(org_id, set()).add(language)
    assert SIX_LANGUAGES in by_org.values()
    assert all(len(languages) >= 2 for languages in by_org.values())
    assert len(by_org) == Organization.objects.filter(kind=Organization.Kind.CONTRIBUTOR).count()
    full = next(org_id for org_id, languages in by_org.items() if languages == SIX_LANGUAGES)
    procedures = OperatingProcedure.objects.filter(organization_id=full)
    for field in ("description", "contact", "criteria", "procedure", "appeal"):
        texts = [getattr(p, field) for p in procedures]
        assert all(texts) and len(set(texts)) == 6, field
    scripts = {p.language: p.criteria for p in procedures}
    assert re.search(r"[\u0600-\u06ff]", scripts["ar"])
    assert re.search(r"[\u4e00-\u9fff]", scripts["zh-hans"])
    assert re.search(r"[\u0400-\u04ff]", scripts["ru"])


def test_listings_were_written_through_the_services(demo):
    submitted = AuditEvent.objects.filter(action="listing.submit")
    assert sum(event.detail["created"] for event in submitted) == Listing.objects.count()
    assert not Listing.objects.filter(creation_event__isnull=True).exists()
    assert set(Listing.objects.values_list("creation_event", flat=True)) <= set(submitted.values_list("pk", flat=True))
    assert set(submitted.values_list("via", flat=True)) == {"cli"}
    assert AuditItem.objects.filter(event__action="listing.remove").count() == \
        Listing.objects.filter(status=Listing.Status.REMOVED).count()


def test_the_sample_upload_of_the_readme_tour(demo):
    """README: the first upload changes nothing (row 6 is rejected); with accept-valid-rows three
    rows are published and the one under cdn.example is held."""
    italy = Organization.objects.get(slug="demo-copyright-office-italy")
    data = (Path(sitealert.demo.__file__).parent / "sample-upload.csv").read_bytes()
    actor = Actor(organization=italy, via="web")
    first = import_csv(italy, data, actor=actor)
    assert not first.applied
    assert [(r.row, r.status) for r in first.rows if r.status != "accepted"] == [(5, "held"), (6, "rejected")]
    second = import_csv(italy, data, actor=actor, accept_valid_rows=True)
    assert second.applied and second.counts == {"accepted": 3, "unchanged": 0, "held": 1, "rejected": 1}
    published = set(FeedEntry.objects.filter(countries="IT").values_list("target", flat=True))
    assert {"www.stream-premieres.example", "live-derby-tv.test", "android:example.demo.derbylive"} <= published
    assert not FeedEntry.objects.filter(target="files.cdn.example").exists()


def test_the_readme_gives_every_demo_login():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for _, username, password in demo_logins():
        assert f"`{username}`" in readme and f"`{password}`" in readme, username


def test_monitoring_has_months_of_history_and_every_monitored_site_a_status(demo):
    now = timezone.now()
    domains = set(FeedEntry.objects.filter(kind="domain").values_list("target", flat=True))
    monitored = ProbeTarget.objects.filter(active=True)
    assert set(monitored.values_list("target", flat=True)) == domains
    statuses = Counter(monitored.values_list("status", flat=True))
    assert set(statuses) == {Status.ONLINE, Status.OFFLINE}, statuses
    assert 0.6 < statuses[Status.ONLINE] / len(domains) < 0.95
    assert not monitored.filter(last_checked_at__lt=now - timedelta(days=1)).exists()
    assert StatusPeriod.objects.filter(started_at__lt=now - timedelta(days=120)).exists()
    # The history is the worker's own: each site's current status is its latest period's.
    periods = {p.pk: p for p in StatusPeriod.objects.all()}
    for target in monitored:
        period = periods[target.current_period]
        assert (period.probe_target_id, period.status, period.ended_at) == \
            (target.pk, target.status, target.last_checked_at)


def test_monitoring_shows_stale_sites_and_hopping_candidates_to_their_contributors(demo):
    contributors = Organization.objects.filter(kind=Organization.Kind.CONTRIBUTOR)
    assert sum(stale_listings(org).count() for org in contributors) >= 5
    candidates = HoppingCandidate.objects.filter(state=HoppingCandidate.State.OPEN)
    assert {c.contributor_id for c in candidates} >= set(contributors.values_list("pk", flat=True))
    for candidate in candidates:
        assert RESERVED_DOMAIN.match(candidate.target)
        assert not FeedEntry.objects.filter(target=candidate.target).exists()
    # Redirects between listed sites are recorded, and are no candidates.
    assert RedirectEdge.objects.filter(to_site__in=FeedEntry.objects.values("target")).exists()


def test_activity_is_spread_over_months(demo):
    def months(dates):
        return {(d.year, d.month) for d in dates}
    listed = months(Listing.objects.values_list("listed_at", flat=True))
    removed = Listing.objects.filter(status=Listing.Status.REMOVED)
    assert len(listed) >= 12
    assert len(months(removed.values_list("status_changed_at", flat=True))) >= 3
    assert all(r.listed_at <= r.status_changed_at <= timezone.now() for r in removed)
