import hashlib
import re

import pytest
from django.test import Client

from sitealert.core.models import AuditEvent
from sitealert.organizations.models import ApiToken


def secret_in(body):
    match = re.search(r'id="token-secret"[^>]*value="(sa_[^"]+)"', body)
    return match.group(1) if match else None


@pytest.mark.django_db
@pytest.mark.parametrize("who, scope", [("carol", "feed"), ("alice", "listings")])
def test_create_token_shows_secret_once_and_stores_only_its_hash(request, login, who, scope):
    user = request.getfixturevalue(who)
    client = login(user)
    response = client.post("/tokens/", {"name": "ad server", "days": 90})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = secret_in(response.content.decode())
    assert secret
    token = ApiToken.objects.get(organization=user.membership.organization)
    assert token.scope == scope and token.name == "ad server"
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {getattr(token, f.attname) for f in ApiToken._meta.fields}
    listing_page = client.get("/tokens/").content.decode()
    assert secret not in listing_page and token.hint in listing_page and "ad server" in listing_page
    assert AuditEvent.objects.filter(action="token.create", object_repr=token.hint).exists()


@pytest.mark.django_db
def test_revoke_token(login, carol, adco):
    client = login(carol)
    client.post("/tokens/", {"name": "old", "days": 30})
    token = ApiToken.objects.get(organization=adco)
    response = client.post(f"/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in client.get("/tokens/").content.decode()


@pytest.mark.django_db
def test_cannot_revoke_another_organizations_token(login, bob, italy_token):
    token = ApiToken.objects.get(organization__slug__startswith="autorita")
    assert login(bob).post(f"/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.django_db
def test_tokens_page_lists_only_own_tokens(login, carol, adco_token, italy_token):
    body = login(carol).get("/tokens/").content.decode()
    assert adco_token[:10] in body and italy_token[:10] not in body


@pytest.mark.django_db
def test_pending_organization_cannot_manage_tokens(login, adco, carol):
    adco.status = adco.Status.PENDING
    adco.save()
    client = login(carol)
    assert client.get("/tokens/").status_code == 403
    assert client.post("/tokens/", {"days": 30}).status_code == 403
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_token_creation_enforces_csrf(carol):
    client = Client(enforce_csrf_checks=True)
    client.force_login(carol)
    assert client.post("/tokens/", {"days": 30}).status_code == 403
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_tokens_without_expiry_when_the_installation_allows_it(settings, login, carol):
    settings.SITEALERT = {**settings.SITEALERT, "TOKEN_DEFAULT_DAYS": 0}
    client = login(carol)
    assert "Until revoked" in client.get("/tokens/").content.decode()
    assert client.post("/tokens/", {"name": "forever", "days": 0}).status_code == 200
    assert ApiToken.objects.get().expires_at is None


@pytest.mark.django_db
def test_revoking_asks_for_confirmation_first(login, carol, adco):
    client = login(carol)
    client.post("/tokens/", {"name": "bidder", "days": 30})
    token = ApiToken.objects.get(organization=adco)
    assert f'href="/tokens/{token.pk}/revoke/"' in client.get("/tokens/").content.decode()

    page = client.get(f"/tokens/{token.pk}/revoke/")

    assert page.status_code == 200 and 'id="revoke-form"' in page.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None
    client.post(f"/tokens/{token.pk}/revoke/")
    assert client.get(f"/tokens/{token.pk}/revoke/").status_code == 302  # already revoked: back to the list
