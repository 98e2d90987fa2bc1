"""The public check names, for each listing, its authority, its country and, for a federated one,
the installation where it decides and where to ask it for a review (page and /api/v1/check)."""

import re

import pytest
from django.conf import settings as django_settings

pytestmark = pytest.mark.django_db

EUROPE_FORM = "https://europe.sitealert.test/review-requests/new/?target="


@pytest.fixture
def both(italy, bavaria, list_targets, list_federated):
    list_targets(italy, ["pirate.example"])
    list_federated(bavaria, ["pirate.example", "only-bavaria.example"])


def test_the_api_names_the_installation_and_where_to_ask(client, both, italy, bavaria):
    document = client.get("/api/v1/check", {"q": "https://Watch.Pirate.example/x"}).json()
    by_name = {m["contributor"]: m for m in document["matches"]}
    local, federated = by_name[italy.name], by_name[bavaria.name]
    assert federated["country"] == "DE" and federated["installation"] == "SiteAlert Europe"
    # The target asked about, quoted for a URL, in the federated authority's own form.
    assert federated["review_url"] == EUROPE_FORM + "watch.pirate.example"
    assert federated["procedure_url"] == f"{django_settings.SITE_URL}/procedures/bavaria/"
    assert local["installation"] is None
    assert local["review_url"] == f"{django_settings.SITE_URL}/review-requests/new/?target=watch.pirate.example"
    assert local["procedure_url"] == f"{django_settings.SITE_URL}/procedures/{italy.slug}/"


def test_an_app_target_is_quoted_in_the_review_url(client, bavaria, list_federated):
    list_federated(bavaria, ["android:com.pirate.app"])
    (match,) = client.get("/api/v1/check", {"q": "android:com.pirate.app"}).json()["matches"]
    assert match["review_url"] == EUROPE_FORM + "android%3Acom.pirate.app"


def test_the_openapi_schema_documents_the_new_fields(client):
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["CheckMatch"]
    assert {"installation", "review_url"} <= set(schema["properties"]) <= set(schema["required"]) | {"installation"}
    assert "installation" in schema["properties"] and schema["properties"]["review_url"]["description"]


def test_the_page_shows_where_each_authority_decides_and_offers_both_routes(client, both, bavaria):
    html = client.get("/check/", {"q": "pirate.example"}).content.decode()
    cards = re.findall(r'<li class="match">.*?</li>', html, re.S)
    federated_card = next(c for c in cards if bavaria.name in c)
    assert "Decides at" in federated_card and "SiteAlert Europe" in federated_card
    assert "Germany" in federated_card and 'href="/procedures/bavaria/"' in federated_card
    assert all("Decides at" not in c for c in cards if c is not federated_card)
    cta = html[html.index('class="panel review-cta"'):]
    assert f'href="{EUROPE_FORM}pirate.example"' in cta
    assert "Ask <bdi>Bayerische Medienaufsicht</bdi> at <bdi>SiteAlert Europe</bdi>" in cta
    assert 'id="request-review" href="/review-requests/new/?target=pirate.example"' in cta


def test_a_target_listed_only_elsewhere_offers_only_the_links(client, both):
    html = client.get("/check/", {"q": "only-bavaria.example"}).content.decode()
    cta = html[html.index('class="panel review-cta"'):]
    assert f'href="{EUROPE_FORM}only-bavaria.example"' in cta
    assert 'id="request-review"' not in cta and "decides at another installation" in cta


def test_the_page_is_translated(client, both):
    html = client.get("/check/", {"q": "only-bavaria.example"}, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Décide sur" in html and "Demander à <bdi>Bayerische Medienaufsicht</bdi> sur" in html
