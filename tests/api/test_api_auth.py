"""Who may call what: tokens, scopes, organization status and rate limits (SPEC §1, §4, §10)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sitealert.core.actors import Actor
from sitealert.organizations.models import ApiToken
from sitealert.organizations.services import revoke_token, set_organization_status
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

FEED_ENDPOINTS = [
    ("get", "/api/v1/feed", None),
    ("get", "/api/v1/feed?format=txt", None),
    ("get", "/api/v1/feed/changes?since=0", None),
    ("post", "/api/v1/lookup", {"items": ["a.example"]}),
]
WRITE_ENDPOINTS = [
    ("post", "/api/v1/listings", {"entries": [{"target": "new.example", "category": "other"}]}),
    ("post", "/api/v1/listings/remove", {"targets": ["a.example"], "reason": "Annulled"}),
]


def call(client, method, path, data, headers):
    if method == "get":
        return client.get(path, headers=headers)
    return client.post(path, data=data, content_type="application/json", headers=headers)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == code
    assert response.json()["detail"]


@pytest.mark.parametrize("method,path,data", FEED_ENDPOINTS + WRITE_ENDPOINTS)
def test_anonymous_gets_401_with_a_bearer_challenge(client, method, path, data):
    response = call(client, method, path, data, {})
    assert_error(response, 401, "authentication_required")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token sa_abc", "sa_abc"])
def test_malformed_authorization_header(client, header):
    response = client.get("/api/v1/feed", headers={"Authorization": header})
    assert_error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.parametrize("secret", ["sa_" + "x" * 43, "not-a-token", "sa_" + "x" * 200])
def test_unknown_token(client, secret):
    assert_error(client.get("/api/v1/feed", headers=bearer(secret)), 401, "invalid_token")


def test_expired_token(client, adco_token):
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(days=1))
    response = client.get("/api/v1/feed", headers=bearer(adco_token))
    assert_error(response, 401, "invalid_token")
    assert "expired" in response.json()["detail"]


def test_revoked_token(client, adco, adco_token):
    revoke_token(ApiToken.objects.get(organization=adco), actor=Actor(via="cli"))
    response = client.get("/api/v1/feed", headers=bearer(adco_token))
    assert_error(response, 401, "invalid_token")
    assert "revoked" in response.json()["detail"]


@pytest.mark.parametrize("status", ["suspended", "pending"])
def test_suspended_or_pending_organization_gets_403(client, adco, adco_token, italy, italy_token, status):
    for org in (adco, italy):
        set_organization_status(org, status, actor=Actor(via="cli"))
    assert_error(client.get("/api/v1/feed", headers=bearer(adco_token)), 403, "organization_not_approved")
    for method, path, data in WRITE_ENDPOINTS:
        assert_error(call(client, method, path, data, bearer(italy_token)), 403, "organization_not_approved")


def test_suspended_token_is_still_401_when_revoked(client, adco, adco_token):
    set_organization_status(adco, "suspended", actor=Actor(via="cli"))
    revoke_token(ApiToken.objects.get(organization=adco), actor=Actor(via="cli"))
    assert_error(client.get("/api/v1/feed", headers=bearer(adco_token)), 401, "invalid_token")


@pytest.mark.parametrize("method,path,data", FEED_ENDPOINTS)
def test_a_contributor_cannot_read_the_aggregated_list(client, italy_token, method, path, data):
    """SPEC §4: list endpoints are for authorized users and the operator."""
    response = call(client, method, path, data, bearer(italy_token))
    assert_error(response, 403, "forbidden")
    assert "authorized users" in response.json()["detail"]


@pytest.mark.parametrize("method,path,data", WRITE_ENDPOINTS)
def test_a_user_or_the_operator_can_never_write(client, italy, list_targets, adco_token, operator_token,
                                                  method, path, data):
    from sitealert.listings.models import Listing

    list_targets(italy, ["a.example"])
    before = list(Listing.objects.values_list("target", "status", "contributor_id"))
    for token in (adco_token, operator_token):
        assert_error(call(client, method, path, data, bearer(token)), 403, "forbidden")
    response = client.post("/api/v1/imports", {"file": _csv_file()}, headers=bearer(adco_token))
    assert_error(response, 403, "forbidden")
    assert list(Listing.objects.values_list("target", "status", "contributor_id")) == before


def _csv_file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("list.csv", b"target,category\nnew.example,other\n", content_type="text/csv")


def test_a_feed_scope_token_of_a_contributor_cannot_write(client, italy):
    """Defense in depth: even a (wrongly issued) feed-scope token of a contributor writes nothing."""
    _token, secret = ApiToken.issue(italy, ApiToken.Scope.FEED)
    response = client.post("/api/v1/listings", data={"entries": [{"target": "a.example", "category": "other"}]},
                           content_type="application/json", headers=bearer(secret))
    assert_error(response, 403, "forbidden")


def test_rate_limit_per_token(client, adco_token, korea, settings):
    settings.SITEALERT = {**settings.SITEALERT, "API_RATE": 3, "API_WINDOW": 60}
    for _ in range(3):
        assert client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 200
    response = client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token))
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 2 * 60  # the sliding window: until enough of the requests slid out
    # The limit is per token: another organization's token is unaffected.
    from sitealert.organizations.models import Organization
    from sitealert.organizations.services import issue_token

    other = Organization.objects.create(slug="other-ads", name="Other Ads", kind="user", status="approved")
    _token, secret = issue_token(other, actor=Actor(via="cli"))
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(secret)).status_code == 200


def test_token_use_is_recorded_at_the_next_flush(client, adco, adco_token):
    from sitealert.core import tallies

    client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token))
    assert ApiToken.objects.get(organization=adco).last_used_at is None  # the call itself wrote nothing
    tallies.flush()
    assert ApiToken.objects.get(organization=adco).last_used_at is not None


def test_token_endpoint_describes_the_token(client, italy_token, adco_token):
    info = client.get("/api/v1/token", headers=bearer(italy_token)).json()
    assert info["organization"]["country"] == "IT"
    assert info["scope"] == "listings"
    assert info["may_manage_listings"] is True and info["may_read_feed"] is False
    info = client.get("/api/v1/token", headers=bearer(adco_token)).json()
    assert info["scope"] == "feed" and info["may_read_feed"] is True and info["may_manage_listings"] is False
    assert "token_hash" not in str(info)


def test_errors_are_translated(client):
    response = client.get("/api/v1/feed", headers={"Accept-Language": "fr"})
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_required"  # the code never changes
    assert response.json()["detail"] != client.get("/api/v1/feed", headers={"Accept-Language": "en"}).json()["detail"]


def test_no_csrf_token_needed_with_a_bearer_token(italy_token):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/listings", data={"entries": [{"target": "a.example", "category": "other"}]},
                           content_type="application/json", headers=bearer(italy_token))
    assert response.status_code == 200


def test_session_login_is_not_an_api_credential(client, carol):
    """A signed-in browser has no bearer token: the API does not fall back to the session."""
    client.force_login(carol)
    assert_error(client.get("/api/v1/feed"), 401, "authentication_required")


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert_error(response, 404, "not_found")


@pytest.fixture
def token_cache_seconds(settings):
    def _set(seconds):
        settings.SITEALERT = {**settings.SITEALERT, "TOKEN_CACHE_SECONDS": seconds}
    return _set


def test_a_token_is_read_once_per_cache_period_and_revocation_elsewhere_holds_within_it(
        client, adco, adco_token, token_cache_seconds):
    """Another process revokes the token (here: straight in the database, which this process's
    cache does not see): refused once the cache period is over, half a second here."""
    import time

    token_cache_seconds(0.5)
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 200
    ApiToken.objects.filter(organization=adco).update(revoked_at=timezone.now())
    cached = client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token))
    assert cached.status_code == 200  # the cache at work: the token was not read again
    time.sleep(0.6)
    refused = client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


def test_a_suspension_elsewhere_holds_within_the_cache_period(client, adco, adco_token, token_cache_seconds):
    import time

    from sitealert.organizations.models import Organization

    token_cache_seconds(0.5)
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 200
    Organization.objects.filter(pk=adco.pk).update(status="suspended")
    time.sleep(0.6)
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 403


def test_revocation_and_suspension_in_this_process_hold_at_once(client, adco, adco_token, token_cache_seconds):
    token_cache_seconds(3600)
    operator = Actor(via="cli")
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 200
    set_organization_status(adco, "suspended", actor=operator)
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 403
    set_organization_status(adco, "approved", actor=operator)
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 200
    revoke_token(ApiToken.objects.get(organization=adco), actor=operator)
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(adco_token)).status_code == 401


def test_a_cached_token_expires_on_time(client, adco, token_cache_seconds):
    import time

    token_cache_seconds(3600)
    _token, secret = ApiToken.issue(adco, "feed", expires_at=timezone.now() + timedelta(seconds=1))
    assert client.get("/api/v1/feed/changes?since=0", headers=bearer(secret)).status_code == 200
    time.sleep(1.1)
    refused = client.get("/api/v1/feed/changes?since=0", headers=bearer(secret))
    assert refused.status_code == 401 and "expired" in refused.json()["detail"]
