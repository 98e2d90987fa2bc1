"""Review requests reach only the authorities that decide here; a federated authority that lists the
target is asked at its own installation, through its review form with the target filled in."""

import pytest

from sitealert.reviews.models import ReviewCase, ReviewRequest

pytestmark = pytest.mark.django_db

EUROPE_FORM = "https://europe.sitealert.test/review-requests/new/?target="


@pytest.fixture
def both(italy, bavaria, list_targets, list_federated):
    list_targets(italy, ["pirate.example"])
    list_federated(bavaria, ["pirate.example", "only-bavaria.example"])


def test_a_request_goes_only_to_the_local_authority(both, italy, confirmed_review):
    confirmed_review("pirate.example")
    assert [case.contributor for case in ReviewCase.objects.all()] == [italy]


def test_the_form_links_the_federated_authority_beside_itself(client, both):
    html = client.get("/review-requests/new/", {"target": "www.pirate.example"}).content.decode()
    assert 'id="review-form"' in html
    elsewhere = html[html.index('id="review-elsewhere"'):html.index('id="review-form"')]
    assert f'href="{EUROPE_FORM}www.pirate.example"' in elsewhere
    assert "Ask <bdi>Bayerische Medienaufsicht</bdi> at <bdi>SiteAlert Europe</bdi>" in elsewhere


def test_a_target_listed_only_elsewhere_shows_the_links_instead_of_the_form(client, both):
    html = client.get("/review-requests/new/", {"target": "only-bavaria.example"}).content.decode()
    assert 'id="review-form"' not in html and f'href="{EUROPE_FORM}only-bavaria.example"' in html


def test_a_post_about_a_target_listed_only_elsewhere_is_refused(client, both, mailoutbox):
    response = client.post("/review-requests/new/", {
        "target": "only-bavaria.example", "name": "Sam", "email": "sam@site.test", "relationship": "operator",
        "reasons": "Not infringing.", "evidence": "", "homepage": ""})
    html = response.content.decode()
    assert response.status_code == 200
    assert ("'only-bavaria.example' is listed only by authorities that decide at other installations. Ask them for "
            "a review there, with the links on this page.") in html.replace("&#x27;", "'")
    assert f'href="{EUROPE_FORM}only-bavaria.example"' in html
    assert not ReviewRequest.objects.exists() and not mailoutbox


def test_the_refusal_is_translated(client, both):
    response = client.post("/review-requests/new/", {
        "target": "only-bavaria.example", "name": "Sam", "email": "sam@site.test", "relationship": "operator",
        "reasons": "Not infringing.", "evidence": "", "homepage": ""}, HTTP_ACCEPT_LANGUAGE="ru")
    assert "включён в список только ведомствами" in response.content.decode()


def test_an_unlisted_target_is_still_refused_as_before(client, both):
    response = client.post("/review-requests/new/", {
        "target": "nowhere.example", "name": "Sam", "email": "sam@site.test", "relationship": "operator",
        "reasons": "x", "evidence": "", "homepage": ""})
    html = response.content.decode()
    assert "is not on the list, so there is nothing to review" in html and 'id="review-elsewhere"' not in html


def test_a_confirmation_after_the_local_listing_went_opens_no_case_for_the_federated_one(
        both, italy, as_actor, submit_review, client, settings):
    from sitealert.listings.services import remove_listings

    link = submit_review("pirate.example")
    remove_listings(italy, ["pirate.example"], "Court order lifted", actor=as_actor(italy))
    client.post(link.removeprefix(settings.SITE_URL))
    assert not ReviewCase.objects.exists()
