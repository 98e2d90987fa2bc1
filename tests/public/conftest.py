import re

import pytest


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


def links_in(message):
    return re.findall(r"https?://\S+", message.body)


@pytest.fixture
def email_links():
    """email_links(message) -> the web addresses in a sent e-mail."""
    return links_in


@pytest.fixture
def submit_review(client, mailoutbox):
    """submit_review(target, **fields) -> the confirmation link from the e-mail (the request is not confirmed)."""

    def _submit(target, email="owner@site.test", **fields):
        data = {"target": target, "name": "Sam Owner", "email": email, "relationship": "operator",
                "reasons": "We removed all infringing material in March.",
                "evidence": "https://site.test/notice\nhttp://archive.test/x", "homepage": "", **fields}
        before = len(mailoutbox)
        response = client.post("/review-requests/new/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert response["Location"] == "/review-requests/sent/"
        assert len(mailoutbox) == before + 1
        (link,) = [u for u in links_in(mailoutbox[-1]) if "/review-requests/confirm/" in u]
        return link

    return _submit


@pytest.fixture
def confirmed_review(client, submit_review, settings):
    """confirmed_review(target) -> path of the requester's status page."""

    def _confirmed(target, **fields):
        link = submit_review(target, **fields)
        path = link.removeprefix(settings.SITE_URL)
        response = client.post(path)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert "/review-requests/status/" in response["Location"]
        return response["Location"]

    return _confirmed


@pytest.fixture
def italy_case(italy, list_targets, confirmed_review):
    """A confirmed review request about pirate.test, listed by italy: italy's ReviewCase."""
    from sitealert.reviews.models import ReviewCase

    list_targets(italy, ["pirate.test"])
    confirmed_review("pirate.test")
    return ReviewCase.objects.get()
