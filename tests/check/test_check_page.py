"""The public check: one query at a time, active listings only, subdomain coverage, rate limit."""

import json

import pytest

from sitealert.check.services import check_target
from sitealert.core.actors import Actor
from sitealert.listings.models import Listing
from sitealert.listings.services import EntryInput, hold_listing, remove_listings, submit_entries


@pytest.mark.django_db
def test_listed_by_two_countries_names_each_authority_with_procedure_link(client, italy, korea, list_targets):
    list_targets(italy, ["streaming.example"], category="streaming-video")
    list_targets(korea, ["streaming.example"], category="live-sports-iptv")

    response = client.get("/check/", {"q": "https://Streaming.Example/watch?v=1"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "is on the list" in html
    assert italy.name in html and korea.name in html
    assert f'href="/procedures/{italy.slug}/"' in html and f'href="/procedures/{korea.slug}/"' in html
    assert "Video streaming" in html and "Live sports / IPTV" in html
    assert ">Italy<" in html and ">Republic of Korea<" in html
    assert 'href="/review-requests/new/?target=streaming.example"' in html


@pytest.mark.django_db
def test_parent_listing_covers_subdomain_and_not_the_reverse(italy, korea, list_targets):
    list_targets(italy, ["example.test"])
    list_targets(korea, ["video.other.test"])

    sub = check_target("cdn.video.example.test")
    assert sub.target == "cdn.video.example.test"
    assert [(m.target, m.country) for m in sub.matches] == [("example.test", "IT")]

    assert check_target("deep.video.other.test").listed
    parent = check_target("other.test")
    assert parent.target == "other.test" and not parent.listed and parent.error is None


@pytest.mark.django_db
def test_most_specific_listing_comes_first(italy, korea, list_targets):
    list_targets(italy, ["example.test"])
    list_targets(korea, ["video.example.test"])

    result = check_target("video.example.test")

    assert [m.target for m in result.matches] == ["video.example.test", "example.test"]


@pytest.mark.django_db
def test_not_listed_says_so_plainly(client, italy, list_targets):
    list_targets(italy, ["example.test"])

    response = client.get("/check/", {"q": "unrelated.test"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "is not on the list" in html
    assert "No authority lists this site or app" in html
    assert "/review-requests/new/" not in html.split('id="check-result"')[1]


@pytest.mark.django_db
@pytest.mark.parametrize("query, reason", [
    ("192.168.1.1", "is an IP address; the list holds domain names and apps only"),
    ("co.uk", "is a public suffix"),
    ("mailto:someone@example.test", "addresses are not web sites"),
    ("   ", "Nothing was entered"),
])
def test_invalid_input_says_why(client, query, reason):
    response = client.get("/check/", {"q": query})

    assert response.status_code == 200
    html = response.content.decode()
    assert "This cannot be checked" in html
    assert reason in html


@pytest.mark.django_db
def test_held_and_removed_listings_and_private_notes_are_never_shown(client, italy, korea, olga, list_targets):
    submit_entries(italy, [EntryInput(target="held.test", category="other", note="SECRET-NOTE-1")],
                   actor=Actor(organization=italy, via="api"))
    hold_listing(Listing.objects.get(target="held.test"), "Looks like a CDN",
        actor=Actor(user=olga, organization=olga.membership.organization))
    submit_entries(korea, [EntryInput(target="gone.test", category="other", note="SECRET-NOTE-2")],
                   actor=Actor(organization=korea, via="api"))
    remove_listings(korea, ["gone.test"], "Court annulled the order", actor=Actor(organization=korea, via="api"))

    for target in ("held.test", "gone.test"):
        response = client.get("/check/", {"q": target})
        html = response.content.decode()
        assert "is not on the list" in html
        assert "SECRET-NOTE" not in html
        assert not check_target(target).listed


@pytest.mark.django_db
def test_private_note_of_an_active_listing_is_not_shown(client, italy):
    submit_entries(italy, [EntryInput(target="noted.test", category="other", note="SECRET-NOTE-3")],
                   actor=Actor(organization=italy, via="api"))

    html = client.get("/check/", {"q": "noted.test"}).content.decode()

    assert "is on the list" in html and "SECRET-NOTE-3" not in html
    assert "SECRET-NOTE-3" not in json.dumps(check_target("noted.test").as_dict())


@pytest.mark.django_db
def test_rate_limit_answers_429_with_a_friendly_page(client, settings):
    settings.SITEALERT = {**settings.SITEALERT, "PUBLIC_CHECK_RATE": 3, "PUBLIC_CHECK_WINDOW": 3600}

    for _ in range(3):
        assert client.get("/check/", {"q": "example.test"}).status_code == 200
    response = client.get("/check/", {"q": "example.test"})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many requests" in response.content.decode()
    # Another client is not affected; the empty form is never counted.
    assert client.get("/check/", {"q": "example.test"}, REMOTE_ADDR="10.9.9.9").status_code == 200
    assert client.get("/check/").status_code == 200


@pytest.mark.django_db
def test_check_result_as_api_document(italy, list_targets):
    list_targets(italy, ["example.test"])

    data = check_target("www.example.test").as_dict(base_url="https://alert.test")

    assert data["query"] == "www.example.test" and data["target"] == "www.example.test" and data["listed"]
    (match,) = data["matches"]
    assert match["target"] == "example.test" and match["country"] == "IT"
    assert match["contributor"] == italy.name
    assert match["procedure_url"] == f"https://alert.test/procedures/{italy.slug}/"
    assert match["listed_at"].endswith("Z")
    assert check_target("1.2.3.4").as_dict()["error"]


@pytest.mark.django_db
def test_a_normalized_query_says_how_it_was_checked_right_under_the_answer(client, italy, list_targets):
    list_targets(italy, ["best-flix.test"])
    html = client.get("/check/", {"q": "https://WWW.Best-Flix.test/watch"}).content.decode()
    result = html.split('id="check-result"')[1]
    assert result.index('id="check-entered-as"') < result.index('id="check-matches"')
    assert "https://WWW.Best-Flix.test/watch" in result and "www.best-flix.test" in result


@pytest.mark.django_db
def test_an_internationalized_name_is_shown_as_people_write_it_with_its_a_label_beside(client):
    html = client.get("/check/", {"q": "例子.example"}).content.decode()
    heading = html.split('id="check-result-heading"')[1].split("</h2>")[0]
    assert "例子.example (xn--fsqu00a.example)" in heading


@pytest.mark.django_db
def test_a_look_alike_name_is_never_shown_alone(client):
    """аррӏе.com is Cyrillic: browsers show such names as xn--…; so does the headline, beside it."""
    html = client.get("/check/", {"q": "xn--80ak6aa92e.com"}).content.decode()
    heading = html.split('id="check-result-heading"')[1].split("</h2>")[0]
    assert "xn--80ak6aa92e.com" in heading


def test_unicode_form_of_targets():
    from sitealert.hosts import unicode_form

    assert unicode_form("xn--fsqu00a.example") == "例子.example"
    assert unicode_form("films.example") == "films.example"
    assert unicode_form("android:com.xn--app") == "android:com.xn--app"
    assert unicode_form("xn--zz.example") == "xn--zz.example"  # not valid punycode: shown as it is
