"""API tokens from an attacker's side: a stolen database holds no usable secret, a secret is shown
once, dead tokens stay dead, each scope does only its job, and a token is taken from the
Authorization header only (never from the query string, a cookie or the body)."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sitealert.cli import main
from sitealert.listings.models import Listing
from sitealert.organizations.models import ApiToken, Organization
from tests.security.attacks import database_text, listings_snapshot
from tests.security.conftest import bearer


def secret_on_page(body):
    import re

    match = re.search(r'id="token-secret"[^>]*value="(sa_[^"]+)"', body)
    return match.group(1) if match else None


@pytest.mark.django_db
def test_a_copy_of_the_database_holds_no_token_secret(world, italy, adco, carol, alice, capsys, italy_token,
                                                      adco_token):
    secrets = [italy_token, adco_token, "sa_" + world["status_path"].split("/")[-2]]
    for user in (carol, alice):
        client = Client()
        client.force_login(user)
        page = client.post("/tokens/", {"name": "web", "days": 30})
        assert page.status_code == 200 and "no-store" in page["Cache-Control"]
        secrets.append(secret_on_page(page.content.decode()))
        assert secrets[-1] not in client.get("/tokens/").content.decode()  # shown once
    assert main(["token", "create", "--org", adco.slug, "--name", "cli"]) == 0
    secrets.append(capsys.readouterr().out.strip())
    assert all(s and s.startswith("sa_") for s in secrets), secrets
    # Every token works, so the secrets collected are the real ones (the review-request status link too)...
    assert Client().get(world["status_path"]).status_code == 200
    for secret in secrets[3:] + secrets[:2]:
        assert Client().get("/api/v1/token", headers=bearer(secret)).status_code == 200
    # ...and no table (sessions, cache and audit log included) holds one, or its random part.
    rows = database_text()
    assert [r for r in rows if any(s[3:] in r for s in secrets)] == []
    assert ApiToken.objects.filter(token_hash=ApiToken.hash_secret(secrets[-1])).exists()


@pytest.mark.django_db
def test_the_operator_never_sees_a_secret_in_the_admin(world, olga, adco_token):
    client = Client()
    client.force_login(olga)
    token = ApiToken.objects.get(organization__kind="user")
    for path in ["/admin/organizations/apitoken/", f"/admin/organizations/apitoken/{token.pk}/change/",
                 "/admin/core/auditevent/"]:
        response = client.get(path)
        assert response.status_code == 200 and adco_token[3:] not in response.content.decode(), path


def _dead_tokens(italy, adco, korea):
    """(label, secret, expected status) for tokens that must not work."""
    now = timezone.now()
    revoked_token, revoked = ApiToken.issue(adco, ApiToken.Scope.FEED)
    revoked_token.revoked_at = now
    revoked_token.save()
    expired_token, expired = ApiToken.issue(adco, ApiToken.Scope.FEED, expires_at=now - timedelta(seconds=1))
    _t, suspended = ApiToken.issue(korea, ApiToken.Scope.LISTINGS)
    korea.status = Organization.Status.SUSPENDED
    korea.save()
    pending_org = Organization.objects.create(slug="pending-user", name="Pending", kind="user")
    _t, pending = ApiToken.issue(pending_org, ApiToken.Scope.FEED)
    return [
        ("revoked", revoked, 401), ("expired", expired, 401), ("suspended org", suspended, 403),
        ("pending org", pending, 403), ("unknown", "sa_" + "A" * 43, 401), ("not ours", "ghp_abcdef", 401),
        ("huge", "sa_" + "A" * 100_000, 401), ("hash instead of secret", expired_token.token_hash, 401),
        ("hint only", revoked_token.hint, 401),
    ]


@pytest.mark.django_db
def test_revoked_expired_suspended_and_forged_tokens_are_refused(world, italy, adco, korea):
    client = Client()
    before = listings_snapshot()
    for label, secret, status in _dead_tokens(italy, adco, korea):
        for method, path, data in [("get", "/api/v1/feed", None), ("get", "/api/v1/token", None),
                                   ("post", "/api/v1/lookup", {"items": ["films.example"]}),
                                   ("post", "/api/v1/listings", {"entries": [{"target": "x.example",
                                                                              "category": "other"}]})]:
            kwargs = {"data": json.dumps(data), "content_type": "application/json"} if data else {}
            response = getattr(client, method)(path, headers=bearer(secret), **kwargs)
            assert response.status_code == status, (label, path, response.status_code)
            assert response.json()["error"] in ("invalid_token", "organization_not_approved"), (label, path)
    assert listings_snapshot() == before


@pytest.mark.django_db
def test_each_scope_does_only_its_job(world, client, italy_token, korea_token, adco_token, operator_token):
    before = listings_snapshot()
    for token in (italy_token, korea_token):
        for path in ["/api/v1/feed", "/api/v1/feed?format=txt", "/api/v1/feed/changes?since=0",
                     "/api/v1/federation/listings?since=0", "/api/v1/federation/authorities"]:
            assert client.get(path, headers=bearer(token)).status_code == 403, path
        lookup = client.post("/api/v1/lookup", data=json.dumps({"items": ["films.example"]}),
                             content_type="application/json", headers=bearer(token))
        assert lookup.status_code == 403
    for token in (adco_token, operator_token):
        assert client.get("/api/v1/feed", headers=bearer(token)).status_code == 200
        for path, data in [
            ("/api/v1/listings", {"entries": [{"target": "new.example", "category": "other"}]}),
            ("/api/v1/listings/remove", {"targets": ["films.example"], "reason": "x"}),
        ]:
            response = client.post(path, data=json.dumps(data), content_type="application/json",
                                   headers=bearer(token))
            assert response.status_code == 403, (path, response.status_code)
        upload = client.post("/api/v1/imports", {"file": _csv()}, headers=bearer(token))
        assert upload.status_code == 403
    assert listings_snapshot() == before


@pytest.mark.django_db
def test_a_token_is_read_from_the_authorization_header_only(world, adco_token, italy_token):
    client = Client()
    for name in ("token", "access_token", "api_key", "apikey", "key", "bearer", "auth", "authorization"):
        response = client.get(f"/api/v1/feed?{name}={adco_token}")
        assert response.status_code == 401, name
        assert client.get(f"/api/v1/feed/changes?since=0&{name}={adco_token}").status_code == 401, name
    client.cookies["token"] = adco_token
    client.cookies["Authorization"] = f"Bearer {adco_token}"
    assert client.get("/api/v1/feed").status_code == 401
    for header in ("X-Api-Key", "X-Auth-Token", "Token"):
        assert client.get("/api/v1/feed", headers={header: adco_token}).status_code == 401, header
    for scheme in ("Token", "Basic", "Digest", ""):
        assert client.get("/api/v1/feed", headers={"Authorization": f"{scheme} {adco_token}".strip()}
                          ).status_code == 401, scheme
    before = Listing.objects.count()
    body = client.post("/api/v1/listings", data=json.dumps({
        "access_token": italy_token, "token": italy_token,
        "entries": [{"target": "body-token.example", "category": "other"}]}), content_type="application/json")
    assert body.status_code == 401 and Listing.objects.count() == before
    form = client.post("/api/v1/imports", {"file": _csv(), "token": italy_token, "access_token": italy_token})
    assert form.status_code == 401 and Listing.objects.count() == before


@pytest.mark.django_db
def test_the_api_grants_no_cross_origin_reads(world, adco_token):
    client = Client()
    response = client.get("/api/v1/feed", headers={**bearer(adco_token), "Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response
    preflight = client.options("/api/v1/feed", headers={"Origin": "https://evil.example",
                                                       "Access-Control-Request-Method": "GET",
                                                       "Access-Control-Request-Headers": "authorization"})
    assert "Access-Control-Allow-Origin" not in preflight and "Access-Control-Allow-Headers" not in preflight


def _csv():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("l.csv", b"target,category\nupload.example,other\n", content_type="text/csv")
