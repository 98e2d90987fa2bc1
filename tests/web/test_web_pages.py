import pytest

from sitealert.organizations.models import Organization

PROTECTED_PAGES = ["/dashboard/", "/listings/", "/listings/upload/", "/download/", "/tokens/"]


@pytest.mark.django_db
def test_home_explains_the_service_and_offers_login(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="language-switcher"' in body
    assert 'href="/login/"' in body
    assert 'class="skip-link" href="#main"' in body


@pytest.mark.django_db
@pytest.mark.parametrize("url", PROTECTED_PAGES)
def test_pages_send_anonymous_visitors_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
def test_dashboard_sends_each_kind_of_organization_to_its_page(login, alice, carol, olga):
    assert login(alice).get("/dashboard/")["Location"] == "/listings/"
    assert login(carol).get("/dashboard/")["Location"] == "/download/"
    assert login(olga).get("/dashboard/")["Location"] == "/admin/"


@pytest.mark.django_db
def test_dashboard_explains_a_pending_organization(login, italy, alice):
    italy.status = Organization.Status.PENDING
    italy.save()
    response = login(alice).get("/dashboard/")
    assert response.status_code == 200
    assert "waiting for approval" in response.content.decode()
    assert login(alice).get("/listings/").status_code == 403


@pytest.mark.django_db
def test_navigation_follows_the_role(login, alice, carol, olga):
    body = login(alice).get("/listings/").content.decode()
    assert 'href="/listings/upload/"' in body and 'href="/download/"' not in body and 'href="/admin/"' not in body
    body = login(carol).get("/download/").content.decode()
    assert 'href="/download/"' in body and 'href="/listings/upload/"' not in body and 'href="/admin/"' not in body
    body = login(olga).get("/").content.decode()
    assert 'href="/admin/"' in body


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_without_inline_code(client):
    response = client.get("/login/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    body = response.content.decode()
    assert "<script" not in body and "<style" not in body and " style=" not in body


@pytest.mark.django_db
def test_stylesheet_is_served(client):
    response = client.get("/static/sitealert/site.css")
    assert response.status_code == 200
    assert b"inset-inline-start" in b"".join(response.streaming_content)
