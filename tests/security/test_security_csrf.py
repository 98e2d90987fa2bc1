"""CSRF: every state-changing web form refuses a request without the CSRF token, and the API, which
is exempt from CSRF because it authenticates by bearer token, gives a browser's session cookie no
power at all, so a cross-site page cannot use a signed-in contributor's browser to change listings."""

import json
import logging
import re

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tests.conftest import PASSWORD
from tests.security.attacks import listings_snapshot, url_examples


def _csv():
    return SimpleUploadedFile("l.csv", b"target,category\nupload.example,other\n", content_type="text/csv")


@pytest.mark.django_db
def test_every_web_form_enforces_csrf_for_a_signed_in_user(alice, caplog):
    """A POST without the CSRF token is stopped by the CSRF check itself (logged by
    django.security.csrf), on every page outside the token-authenticated API."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    missing = []
    for route in url_examples():
        if route.name.startswith("api:"):
            continue
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="django.security.csrf"):
            response = client.post(route.path, {"reason": "x", "listing": "1", "days": "30"})
        csrf_refusals = [r for r in caplog.records if r.name == "django.security.csrf"]
        if response.status_code != 403 or not csrf_refusals:
            missing.append(f"POST {route.path} ({route.name}) -> {response.status_code}")
    assert missing == [], "state-changing pages without CSRF protection:\n" + "\n".join(missing)


@pytest.mark.django_db
def test_a_signed_in_browser_session_is_no_api_credential(world, alice, carol):
    """The API is CSRF-exempt because it authenticates by token only: a session cookie (which a
    cross-site form would carry) opens nothing, for reading or writing."""
    before = listings_snapshot()
    for user in (alice, carol):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        assert client.get("/api/v1/feed").status_code == 401
        assert client.get("/api/v1/token").status_code == 401
        for path, data in [
            ("/api/v1/listings", {"entries": [{"target": "csrf.example", "category": "other"}]}),
            ("/api/v1/listings/remove", {"targets": ["films.example"], "reason": "csrf"}),
            ("/api/v1/lookup", {"items": ["films.example"]}),
        ]:
            for content_type in ("application/json", "text/plain"):  # text/plain: what a cross-site form can send
                response = client.post(path, data=json.dumps(data), content_type=content_type,
                                       headers={"Origin": "https://evil.example"})
                assert response.status_code == 401, (user, path, response.status_code)
        assert client.post("/api/v1/imports", {"file": _csv()}).status_code == 401
    assert listings_snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_a_cross_site_post_from_a_signed_in_browser_changes_nothing_over_http(live_server, italy, alice):
    """The browser of a signed-in contributor, driven by another site: it sends the session cookie and
    an Origin of its own, but cannot read the CSRF token from SiteAlert's pages."""
    with httpx.Client(base_url=live_server.url) as browser:
        page = browser.get("/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        signed_in = browser.post("/login/", data={"username": "alice", "password": PASSWORD,
                                                  "csrfmiddlewaretoken": token})
        assert signed_in.status_code == 302 and browser.get("/listings/").status_code == 200
        before = listings_snapshot()
        evil = {"Origin": "https://evil.example", "Referer": "https://evil.example/page"}
        attempts = [
            browser.post("/listings/add/", data={"target": "csrf.example", "category": "other"}, headers=evil),
            browser.post("/listings/add/", data={"target": "csrf.example", "category": "other",
                                                 "csrfmiddlewaretoken": "forged" * 8}, headers=evil),
            browser.post("/api/v1/listings", content=json.dumps({"entries": [
                {"target": "csrf.example", "category": "other"}]}), headers={**evil, "Content-Type": "text/plain"}),
            browser.post("/api/v1/listings/remove", content=json.dumps({"targets": ["films.example"], "reason": "x"}),
                         headers={**evil, "Content-Type": "application/json"}),
        ]
        assert [r.status_code for r in attempts] == [403, 403, 401, 401]
        assert listings_snapshot() == before
        # With the token from SiteAlert's own page, the same browser can add a listing: the 403s were CSRF.
        form = browser.get("/listings/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        own = browser.post("/listings/add/", data={"target": "own.example", "category": "other",
                                                   "csrfmiddlewaretoken": token},
                           headers={"Origin": live_server.url, "Referer": live_server.url + "/listings/"})
        assert own.status_code == 302 and listings_snapshot() != before
