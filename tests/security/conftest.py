"""A populated installation for the attacks: two contributors listing overlapping targets with private
notes, an authorized user, the operator, tokens for each, a confirmed review request and monitoring data."""

import json
from datetime import timedelta

import pytest

ITALY_NOTE = "ITALY-PRIVATE-NOTE-7f3a9c"
KOREA_NOTE = "KOREA-PRIVATE-NOTE-51d2e8"
NOTES = (ITALY_NOTE, KOREA_NOTE)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


_shared_password_hash = {}


@pytest.fixture(autouse=True)
def _hash_the_shared_password_once(monkeypatch):
    """Every account of these tests gets the same real argon2 hash of tests.conftest.PASSWORD, computed
    once: argon2 is slow on purpose, and four accounts per test would dominate the suite's time."""
    from django.contrib.auth import base_user, hashers

    from tests.conftest import PASSWORD

    def make_password(password, salt=None, hasher="default"):
        if password != PASSWORD or salt is not None or hasher != "default":
            return hashers.make_password(password, salt, hasher)
        if PASSWORD not in _shared_password_hash:
            _shared_password_hash[PASSWORD] = hashers.make_password(PASSWORD)
        return _shared_password_hash[PASSWORD]

    monkeypatch.setattr(base_user, "make_password", make_password)


@pytest.fixture
def post_json(client):
    def _post(path, data, token=None, raw=None):
        body = raw if raw is not None else json.dumps(data)
        return client.post(path, data=body, content_type="application/json",
                           headers=bearer(token) if token else {})

    return _post


@pytest.fixture
def world(italy, korea, adco, operator_org, alice, bob, carol, olga, italy_token, korea_token, adco_token,
          operator_token):
    """italy lists films.example (shared with korea), italy-only.example and hop source; korea lists
    films.example and korea-only.example. Every listing carries its contributor's private note."""
    from django.utils import timezone

    from sitealert.core.actors import Actor
    from sitealert.listings.models import Listing
    from sitealert.listings.services import EntryInput, submit_entries
    from sitealert.monitoring.models import HoppingCandidate, ProbeTarget, RedirectEdge, Status
    from sitealert.public import reviews
    from sitealert.public.models import ReviewCase

    def submit(org, targets, note):
        report = submit_entries(org, [EntryInput(target=t, category="streaming-video", reference=f"REF-{org.country}",
                                                 note=note) for t in targets], actor=Actor(organization=org, via="api"))
        assert report.applied, report.as_dict()

    submit(italy, ["films.example", "italy-only.example", "stale.example"], ITALY_NOTE)
    submit(korea, ["films.example", "korea-only.example"], KOREA_NOTE)

    now = timezone.now()
    stale = ProbeTarget.objects.create(target="stale.example", status=Status.OFFLINE,
                                       status_since=now - timedelta(days=400), last_checked_at=now)
    films = ProbeTarget.objects.create(target="films.example", status=Status.ONLINE, status_since=now,
                                       last_checked_at=now)
    RedirectEdge.objects.create(probe_target=films, from_host="films.example", to_host="films-new.example",
                                from_site="films.example", to_site="films-new.example", first_seen=now, last_seen=now)
    candidate = HoppingCandidate.objects.create(contributor=italy, target="films-new.example",
                                                destination="films-new.example", source=films, first_seen=now,
                                                last_seen=now)

    request = reviews.submit_review_request(
        query="films.example", target="films.example", name="Site Owner", email="owner@site.test",
        relationship="operator", reasons="Please review.", evidence=[], language="en", ip="192.0.2.1")
    status_token = reviews.confirm_review_request(request)
    cases = {c.contributor_id: c for c in ReviewCase.objects.filter(request=request)}

    return {
        "italy_listing": Listing.objects.get(contributor=italy, target="films.example"),
        "korea_listing": Listing.objects.get(contributor=korea, target="films.example"),
        "stale_probe": stale,
        "candidate": candidate,
        "italy_case": cases[italy.pk],
        "korea_case": cases[korea.pk],
        "status_path": f"/review-requests/status/{status_token}/",
    }
