"""A populated installation for the attacks: two contributors listing overlapping targets with private
notes, an authorized user, the operator, tokens for each, a confirmed review request and monitoring data."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

ITALY_NOTE = "ITALY-PRIVATE-NOTE-7f3a9c"
KOREA_NOTE = "KOREA-PRIVATE-NOTE-51d2e8"
NOTES = (ITALY_NOTE, KOREA_NOTE)


REPO = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter with the project's real settings module, out of reach of the test
# session's fast hasher (tests/conftest.py).
PRODUCTION_HASHING = """
import json
import django
django.setup()
from django.conf import settings
from django.contrib.auth.hashers import make_password
print(json.dumps({"hashers": settings.PASSWORD_HASHERS, "hash": make_password("a production password")}))
"""


@pytest.fixture(scope="session")
def production_password_hashing(tmp_path_factory):
    """{"hashers": production's PASSWORD_HASHERS, "hash": a password hashed there by make_password}."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sitealert.settings",
           "SITEALERT_DATA_DIR": str(tmp_path_factory.mktemp("production-settings"))}
    run = subprocess.run([sys.executable, "-c", PRODUCTION_HASHING], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture
def production_hashers(settings, production_password_hashing):
    """This test hashes as production does (argon2); ask for it before the accounts it should cover."""
    settings.PASSWORD_HASHERS = production_password_hashing["hashers"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


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
    from sitealert.reviews import services as reviews
    from sitealert.reviews.models import ReviewCase

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
