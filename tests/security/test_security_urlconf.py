"""Every URL pattern the project serves, requested by someone who should not get in.

The routes come from `django.urls.get_resolver()`, not from a list kept by hand: a page added later
is covered the day it is added, and fails here unless it refuses strangers or is declared public in
`tests/security/attacks.PUBLIC_ROUTES`.
"""

import pytest
from django.test import Client

from tests.security.attacks import NOT_FOUND_ROUTES, PUBLIC_ROUTES, login_redirect, url_examples

REFUSED = (401, 403, 405)


def refused(response):
    return login_redirect(response) or response.status_code in REFUSED


def test_the_walk_finds_the_pages_of_every_app():
    names = {r.name for r in url_examples()}
    for expected in ["listings", "listing_remove", "tokens", "token_revoke", "download_file", "reviews:inbox_case",
                     "monitoring:candidate_list", "admin:listings_listing_change", "api:submit", "api:feed"]:
        assert expected in names


def test_public_allowlist_has_no_stale_names():
    names = {r.name for r in url_examples()}
    assert PUBLIC_ROUTES - names == set()


@pytest.mark.django_db
def test_every_non_public_page_refuses_an_anonymous_visitor(italy, alice, list_targets):
    list_targets(italy, ["films.example"])
    client = Client(REMOTE_ADDR="203.0.113.9")  # a stranger on the Internet, not on the server's loopback
    problems = []
    for route in url_examples():
        if route.name in PUBLIC_ROUTES:
            continue
        answers = {method: getattr(client, method)(route.path) for method in ("get", "post")}
        for method, response in answers.items():
            if route.name in NOT_FOUND_ROUTES and response.status_code == 404:
                continue
            if not refused(response):
                problems.append(f"{method.upper()} {route.path} ({route.name}) -> {response.status_code}")
    assert problems == [], "pages that answer strangers:\n" + "\n".join(problems)


@pytest.mark.django_db
def test_public_pages_do_not_fail_for_strangers(italy, adco, list_targets):
    list_targets(italy, ["films.example"])
    client = Client()
    values = {"slug": italy.slug}
    for route in url_examples(values):
        if route.name not in PUBLIC_ROUTES or route.name in ("logout", "admin:logout"):
            continue
        response = client.get(route.path)
        assert response.status_code < 500, route


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "carol"])
def test_no_admin_page_answers_a_member_who_is_not_operator_staff(request, who):
    client = Client()
    client.force_login(request.getfixturevalue(who))
    problems = []
    for route in url_examples():
        if not route.path.startswith("/admin/") or route.name in ("admin_login", "admin:logout"):
            continue
        for method in ("get", "post"):
            response = getattr(client, method)(route.path)
            if not (login_redirect(response) or response.status_code in (403, 405)):
                problems.append(f"{method.upper()} {route.path} -> {response.status_code}")
    assert problems == [], "\n".join(map(str, problems))
