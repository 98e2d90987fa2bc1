"""GET /api/v1/feed/changes: applying the changes since N to the list at N yields the list at V."""

import gzip
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from sitealert.core.actors import Actor
from sitealert.feed.models import Change
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.services import EntryInput, hold_listing, remove_listings, submit_entries
from tests.api.conftest import bearer, body, independent_checksum

pytestmark = pytest.mark.django_db


def apply(entries, document):
    """What a client does: upsert listed entries, drop tombstones."""
    by_target = {e["target"]: e for e in entries}
    for change in document["changes"]:
        if change["listed"]:
            by_target[change["target"]] = {k: v for k, v in change.items() if k != "listed"}
        else:
            by_target.pop(change["target"], None)
    return [by_target[t] for t in sorted(by_target)]


@pytest.fixture
def history(italy, korea, olga, list_targets, as_actor, get_feed, adco_token):
    """The full feed after each step of a realistic history: adds, updates, removals, a hold."""
    snapshots = [get_feed(adco_token)]

    def step(action):
        action()
        snapshots.append(get_feed(adco_token))

    step(lambda: list_targets(italy, ["a.example", "b.example", "c.example", "ios:42"]))
    step(lambda: list_targets(korea, ["b.example", "d.test"], category="cyberlocker"))  # b gains KR
    step(lambda: remove_listings(italy, ["a.example", "ios:42"], "Court order annulled", actor=as_actor(italy)))
    step(lambda: submit_entries(italy, [EntryInput(target="c.example", category="publishing", reference="r2")],
                                actor=as_actor(italy)))  # an update: categories change
    step(lambda: remove_listings(korea, ["b.example"], "Site closed", actor=as_actor(korea)))  # b loses KR
    step(lambda: list_targets(italy, ["a.example"]))  # listed again after removal
    step(lambda: hold_listing(Listing.objects.get(contributor=korea, target="d.test"), "Under review",
                              actor=Actor(user=olga, organization=olga.membership.organization)))
    return snapshots


def test_changes_since_every_version_yield_the_current_list(client, history, adco_token):
    final = history[-1]
    assert final["version"] > 0
    for snapshot in history:
        response = client.get("/api/v1/feed/changes", {"since": snapshot["version"]}, headers=bearer(adco_token))
        assert response.status_code == 200
        document = json.loads(body(response))
        assert set(document) == {"since", "version", "checksum", "changes", "more"}
        assert document["since"] == snapshot["version"]
        assert document["version"] == final["version"]
        assert document["more"] is False
        assert response["X-SiteAlert-Version"] == str(final["version"])
        result = apply(snapshot["entries"], document)
        assert result == final["entries"]
        assert document["checksum"] == independent_checksum(e["target"] for e in result) == final["checksum"]


def test_tombstones_and_listed_entries(client, history, adco_token):
    document = json.loads(body(get_changes(client, adco_token, history[1]["version"])))
    by_target = {c["target"]: c for c in document["changes"]}
    assert by_target["ios:42"] == {"target": "ios:42", "kind": "app", "listed": False}
    assert by_target["d.test"] == {"target": "d.test", "kind": "domain", "listed": False}  # held by the operator
    assert by_target["c.example"]["listed"] is True
    assert by_target["c.example"]["categories"] == ["publishing"]
    assert set(by_target["c.example"]) == {"target", "kind", "countries", "categories", "first_listed_at", "listed"}
    assert [c["target"] for c in document["changes"]] == sorted(by_target)


def test_nothing_changed(client, history, adco_token):
    version = history[-1]["version"]
    document = json.loads(body(client.get("/api/v1/feed/changes", {"since": version}, headers=bearer(adco_token))))
    assert document["changes"] == [] and document["version"] == version


def test_a_held_listing_never_appears(client, italy, list_targets, adco_token):
    ProtectedTarget.objects.create(target="cdn.example")
    list_targets(italy, ["video.cdn.example", "plain.example"])
    document = json.loads(body(client.get("/api/v1/feed/changes", {"since": 0}, headers=bearer(adco_token))))
    assert [c["target"] for c in document["changes"]] == ["plain.example"]


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "1e3", " 1", "", "١", "9" * 101])
def test_since_must_be_a_non_negative_integer(client, adco_token, since):
    response = client.get("/api/v1/feed/changes", {"since": since}, headers=bearer(adco_token))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_since"


def test_since_is_required(client, adco_token):
    response = client.get("/api/v1/feed/changes", headers=bearer(adco_token))
    assert response.status_code == 400
    assert "since" in response.json()["detail"]


def test_since_ahead_of_the_server(client, italy, list_targets, adco_token):
    version = list_targets(italy, ["a.example"]).version
    response = client.get("/api/v1/feed/changes", {"since": version + 1}, headers=bearer(adco_token))
    assert response.status_code == 400
    assert response.json()["error"] == "version_ahead"
    assert response.json()["version"] == version


def test_pruned_history_requires_a_resync(client, italy, list_targets, as_actor, adco_token, get_feed):
    from sitealert.listings.changelog import prune_expired_history

    list_targets(italy, ["a.example", "b.example"])
    remove_listings(italy, ["a.example"], "Annulled", actor=as_actor(italy))
    old_client = 0
    Change.objects.update(created_at=timezone.now() - timedelta(days=91))  # older than the 90-day default
    current = get_feed(adco_token)
    list_targets(italy, ["c.example"])  # a recent change, kept
    assert prune_expired_history() == 3
    assert not Change.objects.filter(listed=False).exists()  # the tombstone is gone

    gone = client.get("/api/v1/feed/changes", {"since": old_client}, headers=bearer(adco_token))
    assert gone.status_code == 410
    assert gone.json()["error"] == "resync_required"
    assert gone.json()["pruned_through"] == current["version"]

    # A client that resynced at (or after) the pruned version still gets increments.
    fine = client.get("/api/v1/feed/changes", {"since": current["version"]}, headers=bearer(adco_token))
    assert fine.status_code == 200
    assert apply(current["entries"], json.loads(body(fine))) == get_feed(adco_token)["entries"]


def test_prune_respects_the_retention_setting(italy, list_targets, settings):
    from sitealert.listings.changelog import prune_expired_history

    list_targets(italy, ["a.example"])
    Change.objects.update(created_at=timezone.now() - timedelta(days=10))
    settings.SITEALERT = {**settings.SITEALERT, "TOMBSTONE_RETENTION_DAYS": 30}
    assert prune_expired_history() == 0
    settings.SITEALERT = {**settings.SITEALERT, "TOMBSTONE_RETENTION_DAYS": 7}
    assert prune_expired_history() == 1


def get_changes(client, token, since, **headers):
    return client.get("/api/v1/feed/changes", {"since": since}, headers={**bearer(token), **headers})


def test_changes_documents_are_rendered_once_per_since_and_version(client, italy, list_targets, adco_token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sitealert.api.errors import json_response
    from sitealert.feed import builder

    list_targets(italy, ["a.example", "b.example"])
    version = list_targets(italy, ["c.example", "ios:42"]).version
    first = get_changes(client, adco_token, 1)
    assert first.status_code == 200
    # The same bytes as rendering the document in memory, as the endpoint did before caching.
    rendered = json_response(builder.changes_since(1)).content
    assert body(first) == rendered
    with CaptureQueriesContext(connection) as queries:
        again = get_changes(client, adco_token, 1)
        served = body(again)
    assert served == rendered
    assert again["ETag"] == first["ETag"] and again["X-SiteAlert-Version"] == str(version)
    assert not [q for q in queries.captured_queries if "feed_change" in q["sql"] or "feed_feedentry" in q["sql"]]

    not_modified = get_changes(client, adco_token, 1, **{"If-None-Match": first["ETag"]})
    assert not_modified.status_code == 304 and not_modified["ETag"] == first["ETag"]
    assert not_modified["X-SiteAlert-Checksum"] == first["X-SiteAlert-Checksum"]
    packed = get_changes(client, adco_token, 1, **{"Accept-Encoding": "gzip"})
    assert packed["Content-Encoding"] == "gzip" and packed["ETag"] != first["ETag"]
    assert gzip.decompress(body(packed)) == rendered
    assert get_changes(client, adco_token, 1, **{"If-None-Match": packed["ETag"]}).status_code == 304

    list_targets(italy, ["d.example"])  # a new version: a new document, and no 304 for the old tag
    newer = get_changes(client, adco_token, 1, **{"If-None-Match": first["ETag"]})
    assert newer.status_code == 200 and newer["ETag"] != first["ETag"]
    assert "d.example" in [c["target"] for c in json.loads(body(newer))["changes"]]


def test_behind_a_proxy_a_changes_document_is_sent_by_the_proxy(client, italy, list_targets, adco_token, settings):
    settings.SITEALERT = {**settings.SITEALERT, "ACCEL_REDIRECT": "/_sitealert/feed-cache/"}
    list_targets(italy, ["a.example"])
    version = list_targets(italy, ["b.example"]).version
    response = get_changes(client, adco_token, 1)
    assert response.status_code == 200
    assert not response.streaming and response.content == b""
    location = response["X-Accel-Redirect"]
    stored = (settings.SITEALERT["FEED_CACHE_DIR"] / location.removeprefix("/_sitealert/feed-cache/")).read_bytes()
    document = json.loads(stored)
    assert document["since"] == 1 and document["version"] == version
    assert [c["target"] for c in document["changes"]] == ["b.example"]
    assert response["ETag"] and response["X-SiteAlert-Version"] == str(version)
    assert response["Content-Disposition"] == f'inline; filename="sitealert-changes-1-v{version}.json"'


def test_changes_documents_of_older_versions_are_pruned(client, italy, list_targets, adco_token, settings):
    version = list_targets(italy, ["a.example"]).version
    for since in (0, version):
        assert get_changes(client, adco_token, since).status_code == 200
    cache_dir = settings.SITEALERT["FEED_CACHE_DIR"]
    assert {p.name for p in cache_dir.rglob("changes-*")} == {
        f"changes-{since}-{version}.json{gz}" for since in (0, version) for gz in ("", ".gz")}
    newer = list_targets(italy, ["b.example"]).version
    assert get_changes(client, adco_token, 0).status_code == 200
    assert {p.name for p in cache_dir.rglob("changes-*")} == {f"changes-0-{newer}.json", f"changes-0-{newer}.json.gz"}


def test_a_reset_database_never_gets_another_epochs_changes(client, italy, list_targets, adco_token):
    from sitealert.feed.models import FeedEntry, FeedState

    version = list_targets(italy, ["a.example", "b.example"]).version
    old = get_changes(client, adco_token, 0)
    # Another database at the same version with other content: only its epoch tells them apart.
    FeedEntry.objects.filter(target="b.example").delete()
    Change.objects.filter(target="b.example").delete()
    FeedState.objects.update(epoch="another-database")
    response = get_changes(client, adco_token, 0, **{"If-None-Match": old["ETag"]})
    assert response.status_code == 200 and response["ETag"] != old["ETag"]
    document = json.loads(body(response))
    assert document["version"] == version and [c["target"] for c in document["changes"]] == ["a.example"]
    assert document["checksum"] == independent_checksum(["a.example"])


def test_changes_cache_checks_since_before_serving(client, italy, list_targets, adco_token):
    version = list_targets(italy, ["a.example"]).version
    cached = get_changes(client, adco_token, version)
    ahead = get_changes(client, adco_token, version + 1, **{"If-None-Match": cached["ETag"]})
    assert ahead.status_code == 400 and ahead.json()["error"] == "version_ahead"


def test_a_large_delta_is_streamed_to_the_same_bytes(client, history, adco_token, monkeypatch):
    """Beyond SPLICE_MAX_CHANGES changes the document is rendered from rows streamed in target
    order, the last change of each target, rather than from all changes held at once."""
    from sitealert.api.errors import json_response
    from sitealert.feed import builder

    expected = {snapshot["version"]: json_response(builder.changes_since(snapshot["version"])).content
                for snapshot in history}
    monkeypatch.setattr(builder, "SPLICE_MAX_CHANGES", -1)
    monkeypatch.setattr(builder, "_changed_rows", None)  # the in-memory way is not taken
    for since, document in expected.items():
        assert body(get_changes(client, adco_token, since)) == document
