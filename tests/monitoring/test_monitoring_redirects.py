"""Redirects to other registrable domains become edges; unlisted destinations become hopping
candidates that the contributor lists in one action; the redirect graph shows the family."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from sitealert.core.models import AuditEvent
from sitealert.feed.models import FeedEntry
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.monitoring.models import HoppingCandidate, ProbeTarget, RedirectEdge
from sitealert.monitoring.services import list_candidate, open_candidates
from tests.monitoring import harness as sites


@pytest.fixture
def hopping(italy, korea, list_targets, run_worker, harness):
    """hop.test (listed by italy and korea) now redirects to www.mirror.test, which nobody lists."""
    harness.http.sites["hop.test"] = lambda handler: sites.redirect(
        "http://hop.test/home" if handler.path == "/" else "http://www.mirror.test/landing?from=hop")(handler)
    harness.http.sites["same.test"] = sites.redirect("http://www.same.test/")
    harness.http.sites["tolisted.test"] = sites.redirect("https://listed.test/")
    list_targets(italy, ["hop.test", "same.test", "tolisted.test"], category="cyberlocker")
    list_targets(korea, ["hop.test", "listed.test"])
    run_worker(SCHEMES=("http",))
    return harness


def _make_due():
    ProbeTarget.objects.update(next_probe_at=timezone.now())


def test_cross_domain_redirect_is_an_edge_with_its_chain(hopping, run_worker):
    edge = RedirectEdge.objects.get(probe_target__target="hop.test")
    assert (edge.from_host, edge.to_host, edge.from_site, edge.to_site, edge.count) == (
        "hop.test", "www.mirror.test", "hop.test", "mirror.test", 1)
    assert [h["url"] for h in edge.chain] == [
        "http://hop.test/", "http://hop.test/home", "http://www.mirror.test/landing?from=hop"]
    assert [h["status"] for h in edge.chain] == [301, 301, 200]
    first_seen = edge.first_seen
    _make_due()
    run_worker()
    edge.refresh_from_db()
    assert edge.count == 2 and edge.first_seen == first_seen and edge.last_seen > first_seen
    assert not RedirectEdge.objects.filter(probe_target__target="same.test").exists(), "same registrable domain"


def test_unlisted_destination_is_a_candidate_for_each_contributor_listing_the_source(hopping, italy, korea):
    candidates = HoppingCandidate.objects.order_by("contributor__name")
    assert [(c.contributor, c.target, c.destination, c.source.target, c.state) for c in candidates] == [
        (italy, "mirror.test", "www.mirror.test", "hop.test", "open"),
        (korea, "mirror.test", "www.mirror.test", "hop.test", "open"),
    ]
    # tolisted.test redirects to a listed domain: an edge, no candidate.
    assert RedirectEdge.objects.filter(probe_target__target="tolisted.test", to_host="listed.test").exists()
    assert not HoppingCandidate.objects.filter(target="listed.test").exists()


def test_contributor_lists_a_candidate_in_one_action(hopping, client, alice, italy, korea):
    client.force_login(alice)
    page = client.get(reverse("monitoring:dashboard"))
    assert page.status_code == 200 and "mirror.test" in page.content.decode()
    candidate = HoppingCandidate.objects.get(contributor=italy)
    response = client.post(reverse("monitoring:candidate_list", args=[candidate.pk]), {
        f"candidate-{candidate.pk}-reference": "AGCOM 42/2026", f"candidate-{candidate.pk}-category": "cyberlocker"})
    assert response.status_code == 302
    listing = Listing.objects.get(contributor=italy, target="mirror.test")
    assert (listing.status, listing.reference, listing.category) == ("active", "AGCOM 42/2026", "cyberlocker")
    assert "hop.test" in listing.note
    assert FeedEntry.objects.filter(target="mirror.test").exists()
    candidate.refresh_from_db()
    assert (candidate.state, candidate.reference, candidate.resolved_by) == ("listed", "AGCOM 42/2026", alice)
    assert AuditEvent.objects.filter(action="monitoring.candidate_list", object_repr="mirror.test").exists()
    # The domain is on the list now: korea's candidate is no longer shown.
    assert open_candidates(korea) == []


def test_a_reference_is_required_to_list_a_candidate(hopping, client, alice, italy):
    client.force_login(alice)
    candidate = HoppingCandidate.objects.get(contributor=italy)
    response = client.post(reverse("monitoring:candidate_list", args=[candidate.pk]), {
        f"candidate-{candidate.pk}-category": "cyberlocker"})
    assert response.status_code == 400
    assert not Listing.objects.filter(target="mirror.test").exists()


def test_protected_candidate_is_held_not_published(hopping, italy, as_actor):
    ProtectedTarget.objects.create(target="mirror.test", reason="hosting provider")
    candidate = HoppingCandidate.objects.get(contributor=italy)
    report = list_candidate(italy, candidate.pk, reference="X-1", category="other", actor=as_actor(italy, "web"))
    assert report.rows[0].status == "held"
    assert Listing.objects.get(contributor=italy, target="mirror.test").status == "held"
    assert not FeedEntry.objects.filter(target="mirror.test").exists()


def test_only_the_contributor_acts_on_its_candidates(hopping, client, italy, bob, carol):
    candidate = HoppingCandidate.objects.get(contributor=italy)
    form = {f"candidate-{candidate.pk}-reference": "R", f"candidate-{candidate.pk}-category": "other"}
    for url in (reverse("monitoring:candidate_list", args=[candidate.pk]),
                reverse("monitoring:candidate_dismiss", args=[candidate.pk])):
        assert client.post(url, form).status_code == 302  # anonymous: to the login page
        client.force_login(bob)
        assert client.post(url, form).status_code == 404, "korea cannot reach italy's candidate"
        client.force_login(carol)
        assert client.post(url, form).status_code == 403, "an authorized user is no contributor"
        client.logout()
    candidate.refresh_from_db()
    assert candidate.state == "open" and not Listing.objects.filter(target="mirror.test").exists()


def test_dismissed_candidate_stays_dismissed(hopping, client, alice, italy, run_worker):
    client.force_login(alice)
    candidate = HoppingCandidate.objects.get(contributor=italy)
    assert client.post(reverse("monitoring:candidate_dismiss", args=[candidate.pk])).status_code == 302
    _make_due()
    run_worker()
    candidate.refresh_from_db()
    assert candidate.state == "dismissed" and open_candidates(italy) == []


def test_redirect_graph_is_an_accessible_svg_with_a_table(hopping, client, alice):
    client.force_login(alice)
    response = client.get(reverse("monitoring:graph", args=["hop.test"]))
    assert response.status_code == 200
    html = response.content.decode()
    svg = re.search(r"<svg .*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and 'aria-labelledby="graph-title graph-desc"' in svg
    assert '<title id="graph-title">' in svg and "hop.test → www.mirror.test" in svg
    assert "style=" not in svg and "<script" not in svg and "http://www.w3.org/2000/svg" in svg
    assert not re.search(r"""(src|href)=["']https?://""", html), "nothing loaded from elsewhere"
    table = re.search(r'<table id="edges-table">.*?</table>', html, re.S).group(0)
    assert "www.mirror.test" in table and "not listed" in table


def test_redirect_graph_is_for_the_listing_contributors_and_the_operator(hopping, client, bob, carol, olga):
    url = reverse("monitoring:graph", args=["tolisted.test"])
    assert client.get(url).status_code == 302
    client.force_login(bob)
    assert client.get(url).status_code == 403, "korea does not list tolisted.test"
    client.force_login(carol)
    assert client.get(url).status_code == 403
    client.force_login(olga)
    assert client.get(url).status_code == 200
    assert client.get(reverse("monitoring:graph", args=["not a domain"])).status_code == 404
