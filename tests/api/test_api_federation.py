"""GET /api/v1/federation/authorities and /federation/listings: what a subscribing installation reads."""

import gzip
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sitealert.federation.models import FederatedAuthority, Installation, Source
from sitealert.feed.models import Change
from sitealert.listings.changelog import refresh_targets
from sitealert.listings.models import Listing
from sitealert.listings.services import remove_listings
from sitealert.organizations.models import Organization
from sitealert.procedures.models import OperatingProcedure
from tests.api.conftest import bearer, body, independent_checksum

pytestmark = pytest.mark.django_db


def get(client, path, token, **headers):
    response = client.get(path, headers={**bearer(token), **headers})
    return response, (json.loads(body(response)) if response.status_code == 200 else None)


def apply(state, delta):
    """A subscriber's view, {target: listings}, after applying a listings document."""
    state = dict(state)
    for item in delta["targets"]:
        if item["listings"]:
            state[item["target"]] = item["listings"]
        else:
            state.pop(item["target"], None)
    return state


def federated(name, origin, source, country="FR", installation_id="f" * 32):
    org = Organization.objects.create(kind="contributor", status="approved", name=name, slug=origin.split(":")[1],
                                      country=country, origin=origin, origin_installation="Upstream",
                                      origin_url=f"https://up.example/procedures/{origin.split(':')[1]}/",
                                      review_url="https://up.example/review-requests/new/?target={target}")
    FederatedAuthority.objects.create(organization=org, source=source, installation_id=installation_id)
    return org


def carried(org, targets):
    """Listings of a federated authority, as a pull leaves them (rows and the change log)."""
    with transaction.atomic():
        Listing.objects.bulk_create(Listing(target=t, kind="domain", contributor=org, category="other",
                                            origin_version=1) for t in targets)
        refresh_targets(targets)


@pytest.fixture
def uid(db):
    return Installation.objects.get_or_create(pk=1)[0].uid


def test_the_listings_document_attributes_every_listing_to_its_authority(client, italy, korea, list_targets,
                                                                         adco_token, uid):
    list_targets(italy, ["a.example", "b.example", "android:com.example.app"])
    report = list_targets(korea, ["a.example"], category="torrent-index")

    response, document = get(client, "/api/v1/federation/listings?since=0", adco_token)

    assert response.status_code == 200
    assert (document["installation"], document["since"], document["version"], document["more"]) == \
        (uid, 0, report.version, False)
    targets = [t["target"] for t in document["targets"]]
    assert targets == sorted(targets) == ["a.example", "android:com.example.app", "b.example"]
    assert document["count"] == 3 and document["checksum"] == independent_checksum(targets)
    assert response["X-SiteAlert-Checksum"] == document["checksum"]
    shared = document["targets"][0]
    assert shared["kind"] == "domain"
    assert [(x["authority"], x["category"]) for x in shared["listings"]] == [
        (f"{uid}:{italy.slug}", "streaming-video"), (f"{uid}:{korea.slug}", "torrent-index")]
    assert all(x["listed_at"].endswith("Z") and x["version"] == report.version for x in shared["listings"])
    assert document["targets"][1]["kind"] == "app"


def test_a_delta_gives_each_changed_target_with_all_its_current_listings(client, italy, list_targets, as_actor,
                                                                         adco_token, uid):
    second = Organization.objects.create(kind="contributor", status="approved", name="Guardia", slug="guardia",
                                         country="IT")
    list_targets(italy, ["a.example", "b.example", "gone.example"])
    list_targets(second, ["a.example"])
    _, full = get(client, "/api/v1/federation/listings?since=0", adco_token)
    held = {t["target"]: t["listings"] for t in full["targets"]}

    remove_listings(italy, ["a.example", "gone.example"], "Annulled", actor=as_actor(italy))
    list_targets(second, ["c.example"])
    _, delta = get(client, f"/api/v1/federation/listings?since={full['version']}", adco_token)

    assert delta["since"] == full["version"]
    assert {t["target"]: [x["authority"] for x in t["listings"]] for t in delta["targets"]} == {
        "a.example": [f"{uid}:guardia"], "c.example": [f"{uid}:guardia"], "gone.example": []}
    _, now = get(client, "/api/v1/federation/listings?since=0", adco_token)
    assert apply(held, delta) == {t["target"]: t["listings"] for t in now["targets"]}
    assert (delta["checksum"], delta["count"]) == (now["checksum"], now["count"]) == \
        (independent_checksum(["a.example", "b.example", "c.example"]), 3)


def test_the_authorities_document_describes_each_authority_with_a_published_listing(client, italy, korea, adco,
                                                                                   list_targets, adco_token, uid):
    list_targets(italy, ["a.example"])
    OperatingProcedure.objects.create(organization=italy, language="fr", description="D", contact="C",
                                      criteria="K", procedure="P")

    response, document = get(client, "/api/v1/federation/authorities", adco_token)

    assert response.status_code == 200
    assert document["installation"] == {"id": uid, "name": settings.SITE_NAME, "url": settings.SITE_URL}
    assert [a["key"] for a in document["authorities"]] == [f"{uid}:{italy.slug}"]  # korea lists nothing
    (authority,) = document["authorities"]
    assert authority == {
        "key": f"{uid}:{italy.slug}", "name": italy.name, "country": "IT", "website": italy.website,
        "installation": {"id": uid, "name": settings.SITE_NAME, "url": settings.SITE_URL},
        "url": f"{settings.SITE_URL}/procedures/{italy.slug}/",
        "review_url": settings.SITE_URL + "/review-requests/new/?target={target}",
        "procedures": {"fr": {"description": "D", "contact": "C", "criteria": "K", "procedure": "P", "appeal": ""}}}


def test_federated_authorities_are_republished_only_when_their_source_says_so(client, italy, list_targets,
                                                                             adco_token, uid):
    source = Source.objects.create(name="up", kind="api", url="https://up.example/")
    france = federated("Arcom", "f" * 32 + ":arcom", source)
    list_targets(italy, ["a.example"])
    carried(france, ["fr-only.example", "a.example"])

    _, authorities = get(client, "/api/v1/federation/authorities", adco_token)
    _, listings = get(client, "/api/v1/federation/listings?since=0", adco_token)
    keys = [a["key"] for a in authorities["authorities"]]
    assert keys == sorted([f"{uid}:{italy.slug}", france.origin])
    arcom = next(a for a in authorities["authorities"] if a["key"] == france.origin)
    assert arcom["installation"] == {"id": "f" * 32, "name": "Upstream", "url": "https://up.example"}
    assert (arcom["url"], arcom["review_url"]) == (france.origin_url, france.review_url)
    assert [t["target"] for t in listings["targets"]] == ["a.example", "fr-only.example"]

    Source.objects.filter(pk=source.pk).update(republish=False)
    _, authorities = get(client, "/api/v1/federation/authorities", adco_token)
    _, listings = get(client, "/api/v1/federation/listings?since=0", adco_token)
    assert [a["key"] for a in authorities["authorities"]] == [f"{uid}:{italy.slug}"]
    assert [(t["target"], [x["authority"] for x in t["listings"]]) for t in listings["targets"]] == [
        ("a.example", [f"{uid}:{italy.slug}"])]
    assert (listings["count"], listings["checksum"]) == (1, independent_checksum(["a.example"]))


def test_etag_gzip_and_head(client, italy, list_targets, adco_token):
    list_targets(italy, ["a.example"])
    for path in ("/api/v1/federation/listings?since=0", "/api/v1/federation/authorities"):
        first, document = get(client, path, adco_token)
        again = client.get(path, headers={**bearer(adco_token), "If-None-Match": first["ETag"]})
        assert again.status_code == 304
        packed = client.get(path, headers={**bearer(adco_token), "Accept-Encoding": "gzip"})
        assert packed["Content-Encoding"] == "gzip"
        assert json.loads(gzip.decompress(body(packed))) == document
        head = client.head(path, headers=bearer(adco_token))
        assert head.status_code == 200 and head["ETag"] == first["ETag"] and not body(head)
    list_targets(italy, ["b.example"])
    newer = client.get("/api/v1/federation/listings?since=0", headers={**bearer(adco_token), "If-None-Match": "x"})
    assert newer.status_code == 200


def test_since_rules_are_those_of_the_changes(client, italy, list_targets, as_actor, adco_token):
    version = list_targets(italy, ["a.example", "b.example"]).version
    for since in ("", "-1", "x", "1.5"):
        response = client.get(f"/api/v1/federation/listings?since={since}", headers=bearer(adco_token))
        assert response.status_code == 400 and response.json()["error"] == "invalid_since"
    ahead = client.get(f"/api/v1/federation/listings?since={version + 1}", headers=bearer(adco_token))
    assert (ahead.status_code, ahead.json()["error"]) == (400, "version_ahead")

    remove_listings(italy, ["a.example"], "Annulled", actor=as_actor(italy))
    Change.objects.update(created_at=timezone.now() - timedelta(days=91))
    from sitealert.listings.changelog import prune_expired_history
    prune_expired_history()
    gone = client.get("/api/v1/federation/listings?since=1", headers=bearer(adco_token))
    assert (gone.status_code, gone.json()["error"]) == (410, "resync_required")
    full, document = get(client, "/api/v1/federation/listings?since=0", adco_token)  # always there
    assert [t["target"] for t in document["targets"]] == ["b.example"]


def test_only_feed_tokens_read_them(client, italy, list_targets, italy_token):
    list_targets(italy, ["a.example"])
    assert client.get("/api/v1/federation/authorities").status_code == 401
    assert client.get("/api/v1/federation/listings?since=0", headers=bearer(italy_token)).status_code == 403
