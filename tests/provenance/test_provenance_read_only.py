"""A federated authority is read-only here: every entry point that changes listings, procedures,
members or tokens refuses, with a translated message that names the installation where it decides,
and changes nothing. Only the federation pull's actor passes."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from sitealert.cli import main
from sitealert.core.actors import Actor, federation_actor
from sitealert.feed.models import FeedEntry
from sitealert.listings.models import Listing
from sitealert.organizations.models import ApiToken, Membership
from sitealert.procedures.models import OperatingProcedure, ProcedureRevision

pytestmark = pytest.mark.django_db

REFUSAL = "is a federated authority: it decides at SiteAlert Europe"


@pytest.fixture
def listed(bavaria, list_federated):
    list_federated(bavaria, ["stream.example", "films.example"])
    return bavaria


@pytest.fixture
def hans(listed):
    """An account of the federated authority (one made before it came through federation)."""
    user = get_user_model().objects.create_user("hans", "hans@example.test", "x")
    Membership.objects.create(user=user, organization=listed, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def hans_token(listed):
    return ApiToken.issue(listed, ApiToken.Scope.LISTINGS, name="left over")[1]


def snapshot():
    """What a refused attempt must leave as it was."""
    return (sorted(Listing.objects.values_list("target", "status", "category")),
            sorted(FeedEntry.objects.values_list("target", flat=True)),
            ProcedureRevision.objects.count(), Membership.objects.count(), ApiToken.objects.count())


def test_the_check_refuses_everyone_but_the_federation_pull(listed, italy):
    from sitealert.organizations import permissions

    assert not permissions.can_change_here(Actor(organization=listed, via="cli"), listed)
    assert not permissions.can_change_here(Actor(via="cli"), listed)
    assert permissions.can_change_here(federation_actor(listed), listed)
    assert permissions.can_change_here(Actor(organization=italy, via="web"), italy)  # a local one: unchanged
    assert not permissions.can_manage_listings(Actor(organization=listed, via="api"), listed)
    assert permissions.can_manage_listings(federation_actor(listed), listed)
    assert not permissions.can_edit_procedure(Actor(organization=listed, via="web"), listed)


def test_the_federation_pull_changes_listings_and_procedures(listed):
    from sitealert.listings.services import remove_listings
    from sitealert.procedures.services import save_procedure

    report = remove_listings(listed, ["films.example"], "Removed at its installation", actor=federation_actor(listed))
    assert report.applied and report.counts["accepted"] == 1
    assert list(FeedEntry.objects.values_list("target", flat=True)) == ["stream.example"]
    save_procedure(listed, "fr", {"description": "Autorité bavaroise.", "contact": "x", "criteria": "y",
                                  "procedure": "z", "appeal": "w"}, actor=federation_actor(listed))
    assert set(OperatingProcedure.objects.filter(organization=listed).values_list("language", flat=True)) == {
        "en", "fr"}


@pytest.mark.parametrize("call", ["submit", "remove", "csv", "procedure"])
def test_services_refuse_the_authoritys_own_actor(listed, call):
    from django.core.exceptions import PermissionDenied

    from sitealert.listings.csv_import import import_csv
    from sitealert.listings.services import EntryInput, remove_listings, submit_entries
    from sitealert.procedures.services import save_procedure

    actor = Actor(organization=listed, via="cli")
    before = snapshot()
    attempts = {
        "submit": lambda: submit_entries(listed, [EntryInput("new.example", "other")], actor=actor),
        "remove": lambda: remove_listings(listed, ["stream.example"], "mistake", actor=actor),
        "csv": lambda: import_csv(listed, b"target,category\nnew.example,other\n", actor=actor),
        "procedure": lambda: save_procedure(listed, "en", {"description": "Rewritten"}, actor=actor),
    }
    with pytest.raises(PermissionDenied, match=REFUSAL):
        attempts[call]()
    assert snapshot() == before


@pytest.mark.parametrize("page", ["/listings/", "/listings/upload/", "/procedures/bavaria/edit/en/", "/tokens/"])
def test_web_pages_refuse_a_member_in_their_language(client, hans, page):
    before = snapshot()
    client.force_login(hans)
    response = client.get(page)
    assert response.status_code == 403
    assert REFUSAL in response.content.decode()
    french = client.get(page, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "est une autorité fédérée" in french and "SiteAlert Europe" in french
    assert snapshot() == before


@pytest.mark.parametrize("post", [
    ("/listings/add/", {"target": "new.example", "category": "other"}),
    ("/listings/remove/", {"listing": "1", "reason": "mistake"}),
    ("/listings/upload/", {"file": SimpleUploadedFile("l.csv", b"target,category\nnew.example,other\n")}),
    ("/procedures/bavaria/edit/en/", {"description": "Rewritten", "contact": "c", "criteria": "c",
                                      "procedure": "p", "appeal": "a"}),
    ("/tokens/", {"name": "mine", "days": ""}),
])
def test_web_forms_refuse_a_member_and_change_nothing(client, hans, post):
    path, data = post
    before = snapshot()
    client.force_login(hans)
    response = client.post(path, data)
    assert response.status_code == 403 and REFUSAL in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize("request_", [
    ("/api/v1/listings", {"entries": [{"target": "new.example", "category": "other"}]}),
    ("/api/v1/listings/remove", {"targets": ["stream.example"], "reason": "mistake"}),
])
def test_the_api_refuses_a_token_of_a_federated_authority(client, hans_token, request_):
    path, body = request_
    before = snapshot()
    response = client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {hans_token}")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden" and REFUSAL in response.json()["detail"]
    spanish = client.post(path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {hans_token}",
                          HTTP_ACCEPT_LANGUAGE="es").json()["detail"]
    assert "autoridad federada" in spanish
    assert snapshot() == before


def test_the_api_refuses_an_import_of_a_federated_authority(client, hans_token):
    before = snapshot()
    upload = SimpleUploadedFile("l.csv", b"target,category\nn.example,other\n")
    response = client.post("/api/v1/imports", {"file": upload}, HTTP_AUTHORIZATION=f"Bearer {hans_token}")
    assert response.status_code == 403 and REFUSAL in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize("command", [
    ["import", "{csv}", "--org", "bavaria"],
    ["import", "{csv}", "--org", "bavaria", "--dry-run"],
    ["token", "create", "--org", "bavaria"],
    ["user", "create", "--org", "bavaria", "--username", "mallory"],
])
def test_cli_commands_refuse_with_one_line(listed, command, tmp_path, capsys, monkeypatch):
    csv = tmp_path / "list.csv"
    csv.write_bytes(b"target,category\nnew.example,other\n")
    monkeypatch.setenv("SITEALERT_PASSWORD", "a long enough password for mallory")
    before = snapshot()
    assert main([part.replace("{csv}", str(csv)) for part in command]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sitealert: ") and REFUSAL in err and "Traceback" not in err
    assert snapshot() == before


def test_the_admin_shows_a_federated_authority_read_only(client, olga, listed):
    client.force_login(olga)
    url = f"/admin/organizations/organization/{listed.pk}/change/"
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and REFUSAL in body
    assert 'name="name"' not in body and "europe.sitealert.test/procedures/bavaria/" in body
    response = client.post(url, {"name": "Renamed", "country": "FR", "website": ""})
    assert response.status_code == 403
    listed.refresh_from_db()
    assert (listed.name, listed.country) == ("Bayerische Medienaufsicht", "DE")


def test_the_admin_adds_no_member_to_a_federated_authority(client, olga, listed, alice):
    client.force_login(olga)
    before = snapshot()
    response = client.post("/admin/organizations/membership/add/",
                           {"user": alice.pk, "organization": listed.pk, "role": "member"})
    assert response.status_code == 200 and REFUSAL in response.content.decode()
    assert snapshot() == before
    membership = alice.membership
    response = client.post(f"/admin/organizations/membership/{membership.pk}/change/",
                           {"user": alice.pk, "organization": listed.pk, "role": "member"})
    assert response.status_code == 200 and REFUSAL in response.content.decode()
    membership.refresh_from_db()
    assert membership.organization.slug != listed.slug


def test_the_admin_edits_no_procedure_of_a_federated_authority(client, olga, listed):
    client.force_login(olga)
    procedure = OperatingProcedure.objects.get(organization=listed)
    url = f"/admin/procedures/operatingprocedure/{procedure.pk}/change/"
    assert 'name="description"' not in client.get(url).content.decode()
    assert client.post(url, {"description": "Rewritten"}).status_code == 403
    procedure.refresh_from_db()
    assert procedure.description.startswith("Bayerische Medienaufsicht decides")


def test_the_message_is_translated_in_every_language(listed):
    from sitealert.organizations import permissions

    english = permissions.read_only_reason(listed)
    for language in ["ar", "zh-hans", "fr", "ru", "es"]:
        with translation.override(language):
            text = permissions.read_only_reason(listed)
        assert text != english and "SiteAlert Europe" in text and "Bayerische Medienaufsicht" in text
