"""The check page kept per version of the list: the same answer at once, the form's CSRF token each
client's own, a new version, another language or a signed-in person never served a kept page."""

import re

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sitealert.check.views import TOKEN_PLACEHOLDER

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def page(client, q="www.films.example", **headers):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/check/", {"q": q}, **headers)
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in queries.captured_queries]


def test_a_query_checked_again_is_answered_from_the_kept_page(italy, list_targets):
    list_targets(italy, ["films.example"])
    first, first_queries = page(Client())
    again, queries = page(Client())
    assert "is on the list" in first and italy.name in first
    assert TOKEN.sub("", again) == TOKEN.sub("", first)
    assert any("listings_listing" in sql for sql in first_queries)
    assert not any("listings_listing" in sql for sql in queries)


def test_each_client_gets_its_own_working_csrf_token_in_a_kept_page(italy, list_targets):
    list_targets(italy, ["films.example"])
    page(Client())
    tokens = set()
    for _ in range(2):
        client = Client(enforce_csrf_checks=True)
        html, _queries = page(client)
        token = TOKEN.search(html)[1]
        tokens.add(token)
        response = client.post("/i18n/setlang/", {"language": "fr", "next": "/check/", "csrfmiddlewaretoken": token})
        assert response.status_code == 302 and client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    assert len(tokens) == 2 and TOKEN_PLACEHOLDER not in tokens


def test_a_new_version_of_the_list_is_shown_at_once(italy, list_targets):
    before, _queries = page(Client(), q="new.example")
    list_targets(italy, ["new.example"])
    after, _queries = page(Client(), q="new.example")
    assert "is not on the list" in before and "is on the list" in after


def test_each_language_has_its_own_page(italy, list_targets):
    list_targets(italy, ["films.example"])
    english, _queries = page(Client(), HTTP_ACCEPT_LANGUAGE="en")
    french, _queries = page(Client(), HTTP_ACCEPT_LANGUAGE="fr")
    assert 'lang="en"' in english and 'lang="fr"' in french


def test_a_signed_in_person_gets_a_page_of_their_own(client, alice, italy, list_targets):
    list_targets(italy, ["films.example"])
    anonymous, _queries = page(Client())
    client.force_login(alice)
    signed_in, _queries = page(client)
    assert "login-link" in anonymous and "logout-button" not in anonymous
    assert "logout-button" in signed_in and "alice" in signed_in
