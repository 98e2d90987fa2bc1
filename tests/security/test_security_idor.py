"""Cross-tenant attacks: Korea's bob (and his token) go after Italy's listings, hopping candidates,
review cases, procedure and tokens by id and by target, through every web page and API endpoint that
takes one. Each attempt is refused and leaves Italy's data exactly as it was."""

import pytest
from django.db import transaction
from django.test import Client

from sitealert.feed.models import FeedEntry
from sitealert.listings.models import Listing
from sitealert.monitoring.models import HoppingCandidate, StaleConfirmation
from sitealert.organizations.models import ApiToken
from sitealert.procedures.models import OperatingProcedure
from sitealert.reviews.models import ReviewCase
from tests.security.conftest import ITALY_NOTE, KOREA_NOTE, bearer


def italy_state(italy):
    return (
        sorted(Listing.objects.filter(contributor=italy).values_list(
            "target", "status", "category", "reference", "note", "status_reason", "review_after")),
        sorted(HoppingCandidate.objects.filter(contributor=italy).values_list("pk", "state", "reference")),
        sorted(ReviewCase.objects.filter(contributor=italy).values_list("pk", "outcome", "explanation")),
        sorted(ApiToken.objects.filter(organization=italy).values_list("pk", "revoked_at")),
        sorted(OperatingProcedure.objects.filter(organization=italy).values_list("language", "description")),
        sorted(FeedEntry.objects.values_list("target", flat=True)),
        sorted(StaleConfirmation.objects.filter(listing__contributor=italy).values_list("listing_id", "confirmed_at")),
    )


def attacks_on_italy(world, italy):
    """(method, path, data, allowed statuses) for every web page that takes an id or target of Italy's."""
    italy_ids = [world["italy_listing"].pk, Listing.objects.get(contributor=italy, target="stale.example").pk]
    korea_id = world["korea_listing"].pk
    candidate, case = world["candidate"].pk, world["italy_case"].pk
    token = ApiToken.objects.get(organization=italy).pk
    procedure = f"/procedures/{italy.slug}/edit/en/"
    return [
        ("post", "/listings/remove/", {"listing": italy_ids, "reason": "takeover"}, {404}),
        ("post", "/listings/remove/", {"listing": [korea_id, *italy_ids], "reason": "takeover"}, {404}),
        ("post", "/monitoring/stale/", {"listing": italy_ids, "action": "remove", "reason": "takeover"}, {302}),
        ("post", "/monitoring/stale/", {"listing": italy_ids, "action": "confirm"}, {302}),
        ("post", f"/monitoring/candidates/{candidate}/list/",
         {f"candidate-{candidate}-reference": "X", f"candidate-{candidate}-category": "other"}, {404}),
        ("post", f"/monitoring/candidates/{candidate}/dismiss/", {}, {404}),
        ("get", "/monitoring/graph/italy-only.example/", {}, {403}),
        ("get", f"/review-requests/inbox/{case}/", {}, {404}),
        ("post", f"/review-requests/inbox/{case}/", {"outcome": "removed", "explanation": "gone"}, {404}),
        ("get", procedure, {}, {403}),
        ("post", procedure, {"description": "x", "contact": "x", "criteria": "x", "procedure": "x"}, {403}),
        ("post", f"/tokens/{token}/revoke/", {}, {404}),
    ]


@pytest.mark.django_db
def test_another_contributor_cannot_touch_italys_objects_on_the_web(world, italy, bob):
    before = italy_state(italy)
    client = Client()
    client.force_login(bob)
    for method, path, data, allowed in attacks_on_italy(world, italy):
        response = getattr(client, method)(path, data)
        assert response.status_code in allowed, (method, path, response.status_code)
        assert italy_state(italy) == before, (method, path)
    # Bob's own listing of the shared target was not in Italy's data and is untouched by the 404 above.
    assert Listing.objects.get(pk=world["korea_listing"].pk).status == Listing.Status.ACTIVE


@pytest.mark.django_db
def test_the_same_requests_work_for_italys_own_member(world, italy, alice):
    """The attacks above aim at live objects: each one, made by Italy's alice, succeeds and (for a POST)
    changes Italy's data. Each runs in a rolled-back transaction, so all start from the same state."""
    before = italy_state(italy)
    client = Client()
    client.force_login(alice)
    for method, path, data, _allowed in attacks_on_italy(world, italy):
        if world["korea_listing"].pk in data.get("listing", []):
            continue  # a Korean listing id is refused to Italy too
        with transaction.atomic():
            response = getattr(client, method)(path, data)
            assert response.status_code in (200, 302), (method, path, response.status_code)
            assert method == "get" or italy_state(italy) != before, (method, path)
            transaction.set_rollback(True)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["carol", "olga"])
def test_users_and_operator_staff_cannot_act_as_a_contributor_on_the_web(request, world, italy, who):
    before = italy_state(italy)
    client = Client()
    client.force_login(request.getfixturevalue(who))
    for method, path, data, _allowed in attacks_on_italy(world, italy):
        response = getattr(client, method)(path, data)
        operator_reads_graph = who == "olga" and "graph" in path and response.status_code == 200
        assert response.status_code in (403, 404) or operator_reads_graph, (who, method, path, response.status_code)
        assert italy_state(italy) == before, (who, method, path)
    for method, path in [("get", "/listings/"), ("post", "/listings/add/"), ("get", "/listings/upload/"),
                         ("get", "/monitoring/"), ("get", "/review-requests/inbox/")]:
        assert getattr(client, method)(path, {"target": "new.example", "category": "other"}).status_code == 403
    assert italy_state(italy) == before


@pytest.mark.django_db
def test_contributor_pages_show_only_the_own_organizations_data(world, bob):
    client = Client()
    client.force_login(bob)
    for path in ["/listings/", "/listings/?q=italy", "/listings/?q=example&status=active", "/monitoring/",
                 "/monitoring/?status=offline", "/review-requests/inbox/", "/tokens/"]:
        body = client.get(path).content.decode()
        assert "italy-only.example" not in body and "stale.example" not in body and ITALY_NOTE not in body, path
    assert KOREA_NOTE in client.get("/listings/").content.decode()


@pytest.mark.django_db
def test_listing_the_same_target_creates_an_own_listing_and_leaves_the_others_alone(world, italy, korea, bob):
    before = italy_state(italy)
    client = Client()
    client.force_login(bob)
    response = client.post("/listings/add/", {"target": "https://ITALY-ONLY.example/x", "category": "other",
                                              "reference": "KR-1", "note": "bob's"})
    assert response.status_code == 302
    assert Listing.objects.get(contributor=korea, target="italy-only.example").note == "bob's"
    assert italy_state(italy)[0] == before[0]


@pytest.mark.django_db
def test_a_contributor_token_cannot_remove_or_rewrite_another_contributors_listings(world, italy, korea, client,
                                                                                      korea_token, post_json):
    before = italy_state(italy)
    refused = post_json("/api/v1/listings/remove", {"targets": ["italy-only.example"], "reason": "x"}, korea_token)
    assert refused.status_code == 422
    assert refused.json()["rows"][0]["status"] == "rejected"
    assert italy_state(italy) == before

    # Removing a shared target removes Korea's listing only; Italy's keeps it on the list.
    shared = post_json("/api/v1/listings/remove", {"targets": ["films.example"], "reason": "lifted"}, korea_token)
    assert shared.status_code == 200
    assert Listing.objects.get(contributor=korea, target="films.example").status == Listing.Status.REMOVED
    assert italy_state(italy)[0] == before[0]
    assert FeedEntry.objects.filter(target="films.example").exists()

    rewrite = post_json("/api/v1/listings", {"entries": [
        {"target": "italy-only.example", "category": "other", "reference": "KR", "note": "overwritten"}]}, korea_token)
    assert rewrite.status_code == 200
    imported = client.post("/api/v1/imports", {"file": _csv(b"target,category,reference,note\n"
                                                            b"stale.example,other,KR,overwritten\n")},
                           headers=bearer(korea_token))
    assert imported.status_code == 200, imported.content
    assert italy_state(italy)[0] == before[0]
    assert Listing.objects.filter(contributor=korea, note="overwritten").count() == 2


@pytest.mark.django_db
def test_the_token_endpoint_describes_only_the_callers_own_organization(world, client, korea_token):
    data = client.get("/api/v1/token", headers=bearer(korea_token)).json()
    assert data["organization"]["country"] == "KR"
    assert data["may_read_feed"] is False


def _csv(content):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("listings.csv", content, content_type="text/csv")


@pytest.mark.django_db
def test_members_of_a_suspended_organization_lose_their_web_access(world, italy, adco, alice, carol):
    from sitealert.organizations.models import Organization

    before = italy_state(italy)
    for org in (italy, adco):
        org.status = Organization.Status.SUSPENDED
        org.save()
    contributor, user = Client(), Client()
    contributor.force_login(alice)
    user.force_login(carol)
    for path in ["/listings/", "/listings/upload/", "/monitoring/", "/review-requests/inbox/", "/tokens/"]:
        assert contributor.get(path).status_code == 403, path
    assert contributor.post("/listings/add/", {"target": "late.example", "category": "other"}).status_code == 403
    assert contributor.post("/listings/remove/", {"listing": [world["italy_listing"].pk], "reason": "x"}
                            ).status_code == 403
    for path in ["/download/", "/download/sitealert.txt", "/tokens/"]:
        assert user.get(path).status_code == 403, path
    assert italy_state(italy) == before
