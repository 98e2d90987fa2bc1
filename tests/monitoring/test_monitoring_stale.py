"""Listings offline for a long time come back to their contributor: confirm or remove, in bulk."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from sitealert.feed.models import FeedEntry
from sitealert.listings.models import Listing
from sitealert.monitoring.models import ProbeTarget, StaleConfirmation
from sitealert.monitoring.services import confirm_stale, remove_stale, stale_listings


@pytest.fixture
def offline(italy, korea, list_targets, run_worker, harness):
    """dead1/dead2 offline for 100 days, recent offline for 10, alive online; korea also lists dead1."""
    for name in ("dead1.test", "dead2.test", "recent.test"):
        harness.dns.nxdomain(name)
    list_targets(italy, ["dead1.test", "dead2.test", "recent.test", "alive.test"])
    list_targets(korea, ["dead1.test"])
    run_worker()
    now = timezone.now()
    ProbeTarget.objects.filter(target__in=["dead1.test", "dead2.test"]).update(status_since=now - timedelta(days=100))
    ProbeTarget.objects.filter(target="recent.test").update(status_since=now - timedelta(days=10))
    return {l.target: l for l in Listing.objects.filter(contributor=italy)}


def _stale(org, **kwargs):
    return sorted(stale_listings(org, **kwargs).values_list("target", flat=True))


def test_stale_review_lists_long_offline_listings(offline, italy, korea, settings, client, alice):
    assert _stale(italy) == ["dead1.test", "dead2.test"]
    assert _stale(korea) == ["dead1.test"]
    settings.SITEALERT = {**settings.SITEALERT, "MONITOR_STALE_DAYS": 5}
    assert _stale(italy) == ["dead1.test", "dead2.test", "recent.test"]
    client.force_login(alice)
    page = client.get(reverse("monitoring:dashboard")).content.decode()
    assert 'id="stale-table"' in page and "recent.test" in page.split('id="stale-table"')[1].split("</table>")[0]


def test_confirm_hides_the_listings_until_the_next_period(offline, italy, client, alice):
    client.force_login(alice)
    ids = [offline["dead1.test"].pk, offline["dead2.test"].pk]
    response = client.post(reverse("monitoring:stale"), {"action": "confirm", "listing": ids})
    assert response.status_code == 302
    assert _stale(italy) == []
    assert StaleConfirmation.objects.filter(listing_id__in=ids, confirmed_by=alice).count() == 2
    assert Listing.objects.filter(pk__in=ids, status="active").count() == 2
    assert _stale(italy, now=timezone.now() + timedelta(days=91)) == ["dead1.test", "dead2.test", "recent.test"]


def test_remove_takes_them_off_the_list_with_the_reason(offline, italy, client, alice):
    client.force_login(alice)
    ids = [offline["dead1.test"].pk, offline["dead2.test"].pk]
    response = client.post(reverse("monitoring:stale"), {"action": "remove", "listing": ids,
                                                         "reason": "Site offline since the decision"})
    assert response.status_code == 302
    removed = Listing.objects.filter(pk__in=ids)
    assert {(l.status, l.status_reason) for l in removed} == {("removed", "Site offline since the decision")}
    assert not FeedEntry.objects.filter(target="dead2.test").exists()
    assert FeedEntry.objects.filter(target="dead1.test").exists(), "korea still lists dead1.test"


def test_remove_needs_a_reason(offline, client, alice):
    client.force_login(alice)
    response = client.post(reverse("monitoring:stale"), {"action": "remove", "listing": [offline["dead2.test"].pk]})
    assert response.status_code == 400
    assert Listing.objects.get(pk=offline["dead2.test"].pk).status == "active"


def test_only_stale_listings_are_touched(offline, italy, client, alice):
    client.force_login(alice)
    client.post(reverse("monitoring:stale"), {"action": "remove", "reason": "r",
                                              "listing": [offline["alive.test"].pk, offline["recent.test"].pk]})
    assert Listing.objects.filter(contributor=italy, status="active").count() == 4


@pytest.mark.parametrize("action", ["confirm", "remove"])
def test_other_people_cannot_review_a_contributors_listings(offline, italy, korea, client, bob, carol, action,
                                                           as_actor):
    ids = [offline["dead1.test"].pk, offline["dead2.test"].pk]
    form = {"action": action, "listing": ids, "reason": "attack"}
    assert client.post(reverse("monitoring:stale"), form).status_code == 302  # anonymous: to the login page
    client.force_login(carol)
    assert client.post(reverse("monitoring:stale"), form).status_code == 403
    client.force_login(bob)
    client.post(reverse("monitoring:stale"), form)  # acts on korea's own stale listings only
    assert Listing.objects.filter(pk__in=ids, status="active").count() == 2
    assert not StaleConfirmation.objects.filter(listing_id__in=ids).exists()
    service = confirm_stale if action == "confirm" else (lambda *a, **k: remove_stale(*a[:2], "attack", **k))
    with pytest.raises(PermissionDenied):
        service(italy, ids, actor=as_actor(korea))
