"""GET /api/v1/check: the public check of one domain, URL or app (SPEC §4, §7, §10)."""

import pytest
from django.conf import settings as django_settings

from sitealert.listings.models import ProtectedTarget
from sitealert.listings.services import EntryInput, remove_listings, submit_entries

pytestmark = pytest.mark.django_db

SECRET_NOTE = "informant-7-private-do-not-publish"


@pytest.fixture
def listed(italy, korea, as_actor, list_targets):
    submit_entries(italy, [EntryInput(target="pirate.example", category="streaming-video", reference="AGCOM 1/26",
                                      note=SECRET_NOTE)], actor=as_actor(italy))
    list_targets(korea, ["video.pirate.example"], category="live-sports-iptv")


def test_a_listed_subdomain_shows_every_covering_listing(client, listed, italy, korea):
    response = client.get("/api/v1/check", {"q": "https://Watch.Video.Pirate.example/live?id=1"})
    assert response.status_code == 200
    document = response.json()
    assert document["query"] == "https://Watch.Video.Pirate.example/live?id=1"
    assert document["target"] == "watch.video.pirate.example"
    assert document["listed"] is True
    # Most specific first.
    assert [(m["target"], m["country"]) for m in document["matches"]] == [
        ("video.pirate.example", "KR"), ("pirate.example", "IT")]
    match = document["matches"][1]
    assert match["contributor"] == italy.name
    assert match["listed_at"].endswith("Z")
    assert match["procedure_url"] == f"{django_settings.SITE_URL}/procedures/{italy.slug}/"
    assert set(match) >= {"target", "country", "contributor", "listed_at", "procedure_url"}


def test_a_parent_is_not_covered_by_its_subdomain(client, listed):
    document = client.get("/api/v1/check", {"q": "other.example"}).json()
    assert document == {"query": "other.example", "target": "other.example", "listed": False, "matches": []}
    parent = client.get("/api/v1/check", {"q": "example.pirate.example"}).json()
    assert [m["target"] for m in parent["matches"]] == ["pirate.example"]


def test_private_notes_never_appear(client, listed):
    response = client.get("/api/v1/check", {"q": "pirate.example"})
    assert SECRET_NOTE not in response.content.decode()
    assert "note" not in response.json()["matches"][0]


def test_held_and_removed_listings_are_never_shown(client, italy, korea, as_actor, list_targets):
    ProtectedTarget.objects.create(target="bigcdn.example")
    list_targets(italy, ["files.bigcdn.example"])  # held for review
    list_targets(korea, ["closed.example"])
    remove_listings(korea, ["closed.example"], "Site closed", actor=as_actor(korea))
    for q in ["files.bigcdn.example", "closed.example"]:
        document = client.get("/api/v1/check", {"q": q}).json()
        assert document["listed"] is False and document["matches"] == []


@pytest.mark.parametrize("q", ["*.pirate.example", "pirate.*", "pirate", "%", "pirate.example,other.example",
                               "pirate.example other.example", "pir*.example", "192.168.1.1", "com"])
def test_no_wildcards_partial_names_or_lists(client, listed, q):
    """Enumeration: a query names one target, matched exactly after normalization."""
    response = client.get("/api/v1/check", {"q": q})
    if response.status_code == 200:
        document = response.json()
        assert document["target"] == "pirate.example"  # "*.x" is x itself, not everything under it
        assert [m["target"] for m in document["matches"]] == ["pirate.example"]
    else:
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_target"
        assert response.json()["detail"]


def test_partial_names_match_nothing(client, listed):
    for q in ["irate.example", "pirate.exampl", "pirate.example.evil.test"]:
        assert client.get("/api/v1/check", {"q": q}).json()["listed"] is False


def test_missing_query(client):
    response = client.get("/api/v1/check")
    assert response.status_code == 400
    assert response.json()["error"] == "missing_query"


def test_rate_limited_per_client(client, listed, settings):
    settings.SITEALERT = {**settings.SITEALERT, "PUBLIC_CHECK_RATE": 3, "PUBLIC_CHECK_WINDOW": 60}
    for i in range(3):
        assert client.get("/api/v1/check", {"q": f"site{i}.example"}).status_code == 200
    response = client.get("/api/v1/check", {"q": "pirate.example"})
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert 1 <= int(response["Retry-After"]) <= 2 * 60  # the sliding window: until enough of the requests slid out
    assert "pirate" not in response.content.decode()  # no answer once over the limit
    # Invalid queries count too: probing costs the same.
    other = client.get("/api/v1/check", {"q": "!!"}, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 400
    for _ in range(2):
        client.get("/api/v1/check", {"q": "!!"}, REMOTE_ADDR="192.0.2.7")
    assert client.get("/api/v1/check", {"q": "pirate.example"}, REMOTE_ADDR="192.0.2.7").status_code == 429


def test_no_token_needed_and_none_used(client, listed, italy_token):
    response = client.get("/api/v1/check", {"q": "pirate.example"}, headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200


def test_an_answer_is_kept_for_its_version_and_a_new_version_answers_afresh(client, listed, korea, as_actor,
                                                                          settings):
    """A query asked again costs no statement (the answer and the list's state are the process's);
    a change of the list is answered at once, as `/check/` is."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.SITEALERT = {**settings.SITEALERT, "STATE_CACHE_SECONDS": 3600}
    first = client.get("/api/v1/check", {"q": "video.pirate.example"}).json()
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/check", {"q": "video.pirate.example"}).json() == first
    assert queries.captured_queries == []
    remove_listings(korea, ["video.pirate.example"], "Site closed", actor=as_actor(korea))
    assert [m["target"] for m in client.get("/api/v1/check", {"q": "video.pirate.example"}).json()["matches"]] \
        == ["pirate.example"]
