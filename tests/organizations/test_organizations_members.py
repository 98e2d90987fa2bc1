"""Member badges and their public verification pages."""

import pytest

from sitealert.core.actors import Actor
from sitealert.organizations.services import create_organization, set_organization_status


@pytest.mark.django_db
def test_approved_member_page_and_badge(client, adco):
    page = client.get(f"/members/{adco.slug}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "is an authorized user of" in html and adco.name in html
    assert "Valid member" in html and "verification-valid" in html
    assert f"http://testserver/members/{adco.slug}/badge.svg" in html  # embed code

    badge = client.get(f"/members/{adco.slug}/badge.svg")
    assert badge.status_code == 200
    assert badge["Content-Type"].startswith("image/svg+xml")
    assert badge["Cache-Control"] == "public, no-cache"
    assert client.get(f"/members/{adco.slug}/badge.svg", HTTP_IF_NONE_MATCH=badge["ETag"]).status_code == 304
    svg = badge.content.decode()
    assert svg.startswith("<svg") and "<title>" in svg
    assert f'href="http://testserver/members/{adco.slug}/"' in svg
    assert "Authorized user: AdCo Exchange" in svg and "#1d6b37" in svg


@pytest.mark.django_db
def test_suspended_member_badge_and_page_say_not_valid(client, adco, olga):
    etag_before = client.get(f"/members/{adco.slug}/badge.svg")["ETag"]
    set_organization_status(adco, "suspended", actor=Actor(user=olga, organization=olga.membership.organization))

    html = client.get(f"/members/{adco.slug}/").content.decode()
    assert "Not valid" in html and "is suspended" in html and "verification-invalid" in html
    assert "is an authorized user of" not in html and 'id="badge-code"' not in html
    response = client.get(f"/members/{adco.slug}/badge.svg", HTTP_IF_NONE_MATCH=etag_before)
    assert response.status_code == 200  # a cached valid badge is never confirmed after suspension
    svg = response.content.decode()
    assert "NOT VALID" in svg and "#a4231c" in svg and "Authorized user:" not in svg


@pytest.mark.django_db
def test_unknown_pending_and_non_user_slugs_are_404(client, italy, operator_org):
    pending = create_organization(kind="user", name="Waiting Ads", actor=Actor(via="cli"), status="pending")
    for slug in ("no-such-member", pending.slug, italy.slug, operator_org.slug):
        assert client.get(f"/members/{slug}/").status_code == 404
        assert client.get(f"/members/{slug}/badge.svg").status_code == 404


@pytest.mark.django_db
def test_badge_escapes_the_name(client):
    org = create_organization(kind="user", name='Ads <script>&"Co"', actor=Actor(via="cli"))

    svg = client.get(f"/members/{org.slug}/badge.svg").content.decode()

    assert "<script>" not in svg and "&lt;script&gt;" in svg


@pytest.mark.django_db
def test_badge_in_chinese_is_wider_than_its_character_count(client, adco):
    from sitealert.organizations.badges import text_width

    assert text_width("授权用户") > text_width("abcd")
    svg = client.get(f"/members/{adco.slug}/badge.svg", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert svg.startswith("<svg")
