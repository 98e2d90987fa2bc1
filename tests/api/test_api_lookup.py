"""POST /api/v1/lookup: many items at once, with the subdomain semantics of SPEC §2."""

import pytest

from sitealert.listings.models import ProtectedTarget
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(italy, korea, list_targets):
    list_targets(italy, ["example.co.uk", "video.example.co.uk", "android:com.example.app", "ios:123",
                         "foo.blogspot.com"])
    list_targets(korea, ["deep.video.example.co.uk"])


def results_by_item(post_json, token, items):
    response = post_json("/api/v1/lookup", {"items": items}, token)
    assert response.status_code == 200, response.content
    document = response.json()
    assert set(document) == {"version", "results"}
    assert [r["item"] for r in document["results"]] == items  # in order, one per item, duplicates too
    return document, {r["item"]: r for r in document["results"]}


def test_most_specific_listed_target_covers_the_item(post_json, listed, adco_token):
    items = ["https://WWW.Example.co.uk/watch?v=1", "a.deep.video.example.co.uk", "video.example.co.uk",
             "co.uk.example", "other.co.uk", "example.co.uk.", "https://x.video.example.co.uk:8443/"]
    _, results = results_by_item(post_json, adco_token, items)
    assert results[items[0]] == {"item": items[0], "target": "www.example.co.uk", "listed": True,
                                 "matched": "example.co.uk"}
    assert results[items[1]]["matched"] == "deep.video.example.co.uk"
    assert results[items[2]]["matched"] == "video.example.co.uk"
    assert results[items[3]]["listed"] is False and results[items[3]]["matched"] is None
    assert results[items[4]]["listed"] is False  # same suffix, other registrable domain
    assert results[items[5]]["matched"] == "example.co.uk"
    assert results[items[6]]["matched"] == "video.example.co.uk"


def test_private_suffixes_and_apps(post_json, listed, adco_token):
    items = ["bar.blogspot.com", "x.foo.blogspot.com", "android:com.example.app", "android:com.example.app.pro",
             "https://play.google.com/store/apps/details?id=com.example.app", "ios:id123", "ios:1234"]
    _, results = results_by_item(post_json, adco_token, items)
    assert results["bar.blogspot.com"]["listed"] is False  # blogspot.com is a suffix: foo is not bar's parent
    assert results["x.foo.blogspot.com"]["matched"] == "foo.blogspot.com"
    assert results["android:com.example.app"]["matched"] == "android:com.example.app"
    assert results["android:com.example.app.pro"]["listed"] is False  # apps match exactly
    assert results[items[4]]["target"] == "android:com.example.app" and results[items[4]]["listed"] is True
    assert results["ios:id123"] == {"item": "ios:id123", "target": "ios:123", "listed": True, "matched": "ios:123"}
    assert results["ios:1234"]["listed"] is False


def test_invalid_items_are_answered_with_a_reason(post_json, listed, adco_token):
    items = ["", "http://192.168.0.1/", "com", "not a host", "example.co.uk", "mailto:x@example.com"]
    _, results = results_by_item(post_json, adco_token, items)
    for item in ["", "http://192.168.0.1/", "com", "not a host", "mailto:x@example.com"]:
        result = results[item]
        assert result["target"] is None and result["listed"] is False and result["matched"] is None
        assert result["error"]
    assert "error" not in results["example.co.uk"]


def test_an_overlong_item_is_answered_with_a_reason_without_being_parsed(post_json, listed, adco_token):
    from sitealert.feed.lookup import MAX_ITEM_LENGTH

    longest_url = "https://video.example.co.uk/".ljust(MAX_ITEM_LENGTH, "a")
    overlong = longest_url + "a"
    _, results = results_by_item(post_json, adco_token, [longest_url, overlong, "example.co.uk"])
    assert results[longest_url]["matched"] == "video.example.co.uk"
    assert results[overlong]["target"] is None and str(MAX_ITEM_LENGTH) in results[overlong]["error"]
    assert results["example.co.uk"]["listed"]


def test_held_and_removed_listings_do_not_match(post_json, italy, list_targets, as_actor, adco_token):
    from sitealert.listings.services import remove_listings

    ProtectedTarget.objects.create(target="cdn.example")
    list_targets(italy, ["video.cdn.example", "gone.example"])  # the first is held
    remove_listings(italy, ["gone.example"], "Annulled", actor=as_actor(italy))
    _, results = results_by_item(post_json, adco_token, ["video.cdn.example", "gone.example"])
    assert not any(r["listed"] for r in results.values())


def test_version_matches_the_feed(post_json, listed, adco_token, get_feed):
    document, _ = results_by_item(post_json, adco_token, ["example.co.uk"])
    assert document["version"] == get_feed(adco_token)["version"]


def test_limit_of_items(post_json, listed, adco_token, settings, django_assert_max_num_queries):
    limit = settings.SITEALERT["LOOKUP_MAX_ITEMS"]
    items = [f"host{i}.sub{i}.example.co.uk" for i in range(limit)]
    with django_assert_max_num_queries(40):  # batched: a handful of queries for 30,000 candidates
        document, _ = results_by_item(post_json, adco_token, items)
    assert all(r["matched"] == "example.co.uk" for r in document["results"])

    response = post_json("/api/v1/lookup", {"items": items + ["one.more.example"]}, adco_token)
    assert response.status_code == 413
    assert response.json()["error"] == "too_many_items"
    assert str(limit) in response.json()["detail"].replace(",", "")


@pytest.mark.parametrize("payload,where", [
    ({"items": "example.com"}, "items"),
    ({"items": ["a.example", 3]}, "items[1]"),
    ({"items": [None]}, "items[0]"),
    ({"items": {"a": 1}}, "items"),
    ({}, "items"),
    ([], ""),
])
def test_malformed_requests_say_what_is_wrong(post_json, adco_token, payload, where):
    response = post_json("/api/v1/lookup", payload, adco_token)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert where in response.json()["detail"]


def test_not_json_at_all(client, adco_token):
    response = client.post("/api/v1/lookup", data="items=a.example", content_type="application/json",
                           headers=bearer(adco_token))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "JSON" in response.json()["detail"]


def test_request_body_over_the_server_limit(post_json, adco_token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json("/api/v1/lookup", {"items": ["a.example"] * 200}, adco_token)
    assert response.status_code == 413
    assert response.json()["error"] == "request_too_large"


def test_items_that_are_not_text(client, adco_token):
    surrogate = client.post("/api/v1/lookup", data=b'{"items": ["a.example", "\\ud800.example"]}',
                            content_type="application/json", headers=bearer(adco_token))
    assert surrogate.status_code == 422 and "items[1]" in surrogate.json()["detail"]
    nul = client.post("/api/v1/lookup", data=b'{"items": ["a\\u0000b.example"]}', content_type="application/json",
                      headers=bearer(adco_token))
    assert nul.status_code == 200 and nul.json()["results"][0]["error"]


@pytest.mark.parametrize("content", ["", "  \n"])
def test_an_empty_body_says_it_is_empty(client, adco_token, content):
    response = client.post("/api/v1/lookup", data=content, content_type="application/json",
                           headers=bearer(adco_token))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and "empty" in response.json()["detail"]


def agree_with_a_query_of_the_aggregated_list(post_json, token, items):
    """The matcher of the process against what a query of FeedEntry says (the path lookups took
    before), item by item."""
    from sitealert.feed.models import FeedEntry
    from sitealert.hosts import InvalidTarget, covering_targets, normalize_target

    _document, results = results_by_item(post_json, token, items)
    for item in items:
        try:
            target = normalize_target(item)
        except InvalidTarget:
            assert results[item]["target"] is None and results[item]["error"]
            continue
        covering = covering_targets(target)
        listed = set(FeedEntry.objects.filter(target__in=covering).values_list("target", flat=True))
        matched = next((t for t in covering if t in listed), None)
        assert results[item] == {"item": item, "target": target, "listed": matched is not None, "matched": matched}


@pytest.fixture
def random_world(italy, korea, list_targets):
    import random

    rng = random.Random(14)
    words = ["films", "video", "tv", "cdn", "www", "live", "m", "sport", "xn--80ak6aa92e"]
    suffixes = ["example", "co.uk", "com", "blogspot.com", "test", "github.io"]
    names = sorted({".".join(rng.sample(words, rng.randint(1, 3))) + "." + rng.choice(suffixes)
                    for _ in range(400)})
    names = [n for n in names if not n.endswith(".co.uk") or n.count(".") > 1]
    apps = [f"android:com.example.app{i}" for i in range(20)] + [f"ios:{1000 + i}" for i in range(20)]
    list_targets(italy, rng.sample(names, 120) + apps[::2])
    list_targets(korea, rng.sample(names, 60) + apps[1::4])
    items = (rng.sample(names, 150) + [f"https://{rng.choice(words)}.{n}/path?q=1" for n in rng.sample(names, 150)]
             + [n.upper() + "." for n in rng.sample(names, 50)] + apps + ["com", "", "not a host", "192.0.2.1"])
    rng.shuffle(items)
    return rng, names, items


def test_answers_agree_with_a_query_of_the_aggregated_list_on_a_random_sample(post_json, random_world, adco_token):
    _rng, _names, items = random_world
    agree_with_a_query_of_the_aggregated_list(post_json, adco_token, items)


def test_answers_still_agree_after_changes_applied_to_the_matcher(post_json, random_world, italy, korea,
                                                                   list_targets, as_actor, adco_token):
    """Versions after the first are the base matcher and the targets changed since: removals of
    listed targets (some covering others), new listings below and above listed ones, a target
    removed and listed again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sitealert.feed.lookup import current_matcher
    from sitealert.feed.models import FeedEntry
    from sitealert.listings.services import remove_listings

    rng, names, items = random_world
    agree_with_a_query_of_the_aggregated_list(post_json, adco_token, items)  # the base is built
    listed = sorted(FeedEntry.objects.filter(kind="domain").values_list("target", flat=True))
    italy_listed = [t for t in listed if italy.listings.filter(target=t, status="active").exists()]
    gone = rng.sample(italy_listed, 40)
    remove_listings(italy, gone, "Annulled", actor=as_actor(italy))
    list_targets(korea, [n for n in rng.sample(names, 60) if n not in listed] + ["sub." + gone[0]])
    list_targets(italy, gone[:5])
    with CaptureQueriesContext(connection) as queries:
        agree_with_a_query_of_the_aggregated_list(post_json, adco_token, items)
    scans = [q["sql"] for q in queries.captured_queries if "FROM feed_feedentry" in q["sql"]
             and "IN (" not in q["sql"]]  # the test's own queries name targets
    assert scans == []  # the changes were read, not the whole list
    assert current_matcher.current.added and current_matcher.current.removed


def test_the_matcher_is_built_again_past_its_changes(post_json, italy, list_targets, adco_token, monkeypatch):
    from sitealert.feed import lookup

    monkeypatch.setattr(lookup, "OVERLAY_MAX_CHANGES", 2)
    list_targets(italy, ["films.example"])
    results_by_item(post_json, adco_token, ["films.example"])
    base = lookup.current_matcher.current.base
    list_targets(italy, ["music.example"])
    results_by_item(post_json, adco_token, ["films.example"])
    assert lookup.current_matcher.current.base is base and lookup.current_matcher.current.added
    list_targets(italy, ["books.example", "games.example"])
    _, results = results_by_item(post_json, adco_token, ["x.games.example", "music.example"])
    assert lookup.current_matcher.current.base is not base and not lookup.current_matcher.current.added
    assert results["x.games.example"]["matched"] == "games.example" and results["music.example"]["listed"]


def test_a_new_version_is_answered_at_once(post_json, italy, list_targets, adco_token):
    list_targets(italy, ["films.example"])
    first, results = results_by_item(post_json, adco_token, ["x.music.example"])
    assert results["x.music.example"]["listed"] is False
    list_targets(italy, ["music.example"])
    second, results = results_by_item(post_json, adco_token, ["x.music.example"])
    assert results["x.music.example"]["matched"] == "music.example" and second["version"] > first["version"]


def test_a_thousand_items_cost_a_few_queries_whatever_their_number(post_json, listed, adco_token,
                                                                    django_assert_max_num_queries):
    items = [f"host{i}.sub{i % 7}.example.co.uk" for i in range(1000)]
    post_json("/api/v1/lookup", {"items": items[:1]}, adco_token)  # the matcher of this version is built
    with django_assert_max_num_queries(2):
        response = post_json("/api/v1/lookup", {"items": items}, adco_token)
    assert [r["matched"] for r in response.json()["results"]] == ["example.co.uk"] * 1000


# --- The lookup's base: a generation file in the feed cache, mapped by every process ------------

def lookup_bases():
    import os

    from sitealert.feed import cache
    from sitealert.feed.builder import feed_state

    directory = cache.epoch_directory(feed_state().epoch)
    return directory, sorted(name for name in os.listdir(directory) if name.startswith(("lookup-", ".tmp-")))


def feedentry_scans(queries):
    return [q["sql"] for q in queries.captured_queries if "FROM feed_feedentry" in q["sql"] and "IN (" not in q["sql"]]


@pytest.fixture
def mapped():
    from sitealert.feed import lookup

    if not lookup.current_matcher.mapped:
        pytest.skip("the C accelerator is not loaded (SITEALERT_PURE_PYTHON=1): the base is in memory")
    return lookup


def test_the_base_is_written_once_per_version_and_shared(post_json, random_world, adco_token, mapped):
    """One file for the version; a second process's matcher (here a second CurrentMatcher) maps it
    without reading the list, and answers the same."""
    import os

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sitealert.feed.builder import current_version

    _rng, _names, items = random_world
    agree_with_a_query_of_the_aggregated_list(post_json, adco_token, items)
    directory, names = lookup_bases()
    assert names == [f"lookup-{current_version()}.gen"]
    inode = os.stat(os.path.join(directory, names[0])).st_ino
    second = mapped.CurrentMatcher()
    with CaptureQueriesContext(connection) as queries:
        current = second.get()
    assert feedentry_scans(queries) == []  # mapped, not built
    assert lookup_bases()[1] == names and os.stat(os.path.join(directory, names[0])).st_ino == inode
    first = mapped.current_matcher.get()
    targets = [t for t in (mapped._normalized(item) for item in items) if isinstance(t, str)]
    assert current.matched(targets) == first.matched(targets)


def test_a_new_process_maps_an_older_base_and_reads_the_changes_since(post_json, random_world, italy, korea,
                                                                      list_targets, as_actor, adco_token, mapped,
                                                                      monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sitealert.feed.models import FeedEntry
    from sitealert.listings.services import remove_listings

    rng, names, items = random_world
    agree_with_a_query_of_the_aggregated_list(post_json, adco_token, items)  # the base is written
    written = lookup_bases()[1]
    listed = sorted(FeedEntry.objects.filter(kind="domain").values_list("target", flat=True))
    gone = rng.sample([t for t in listed if italy.listings.filter(target=t, status="active").exists()], 20)
    remove_listings(italy, gone, "Annulled", actor=as_actor(italy))
    list_targets(korea, [n for n in rng.sample(names, 30) if n not in listed] + ["sub." + gone[0]])
    monkeypatch.setattr(mapped, "current_matcher", mapped.CurrentMatcher())  # a process started after the changes
    with CaptureQueriesContext(connection) as queries:
        agree_with_a_query_of_the_aggregated_list(post_json, adco_token, items)
    assert feedentry_scans(queries) == [] and lookup_bases()[1] == written
    assert mapped.current_matcher.current.added and mapped.current_matcher.current.removed


def test_a_base_past_its_changes_is_written_again_and_the_old_one_pruned(post_json, italy, list_targets,
                                                                        adco_token, mapped, monkeypatch):
    from sitealert.feed.builder import current_version

    monkeypatch.setattr(mapped, "OVERLAY_MAX_CHANGES", 2)
    list_targets(italy, ["films.example"])
    results_by_item(post_json, adco_token, ["films.example"])
    first = lookup_bases()[1]
    assert first == [f"lookup-{current_version()}.gen"]
    list_targets(italy, ["music.example"])
    results_by_item(post_json, adco_token, ["films.example"])
    assert lookup_bases()[1] == first  # one change: the overlay, no new file
    list_targets(italy, ["books.example", "games.example"])
    _, results = results_by_item(post_json, adco_token, ["x.games.example", "music.example"])
    assert lookup_bases()[1] == [f"lookup-{current_version()}.gen"] != first
    assert results["x.games.example"]["matched"] == "games.example" and results["music.example"]["listed"]


def test_a_reset_epoch_never_maps_the_old_epochs_base(post_json, italy, list_targets, adco_token, mapped):
    from sitealert.feed.models import FeedEntry, FeedState, new_epoch
    from sitealert.feed.state import published

    list_targets(italy, ["films.example"])
    results_by_item(post_json, adco_token, ["films.example"])
    old_directory, old = lookup_bases()
    # A restored backup: a new epoch, and a list that is not the old one at the same version.
    FeedEntry.objects.filter(target="films.example").delete()
    FeedState.objects.filter(pk=1).update(epoch=new_epoch())
    published()  # as `restore` does
    for matcher in (mapped.current_matcher, mapped.CurrentMatcher()):
        assert matcher.get().matched(["films.example"]) == [None]
    directory, names = lookup_bases()
    assert directory != old_directory and names == old  # the same version, written again for this epoch


def test_a_crash_while_writing_the_base_leaves_no_file(post_json, italy, list_targets, adco_token, mapped,
                                                       monkeypatch):
    from sitealert.matcher import generation

    list_targets(italy, ["films.example"])
    finish = generation.Writer.finish

    def crash(self, *args, **kwargs):
        self._file.flush()
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(generation.Writer, "finish", crash)
    with pytest.raises(KeyboardInterrupt):
        mapped.CurrentMatcher().get()
    assert lookup_bases()[1] == []  # neither the base nor its temporary file
    monkeypatch.setattr(generation.Writer, "finish", finish)
    assert mapped.CurrentMatcher().get().matched(["x.films.example"]) == ["films.example"]


def test_a_damaged_base_is_written_again(post_json, italy, list_targets, adco_token, mapped):
    import os

    list_targets(italy, ["films.example"])
    results_by_item(post_json, adco_token, ["films.example"])
    directory, names = lookup_bases()
    with open(os.path.join(directory, names[0]), "r+b") as f:
        f.write(b"NOTAGEN!")
    assert mapped.CurrentMatcher().get().matched(["x.films.example"]) == ["films.example"]
    assert lookup_bases()[1] == names


def test_without_the_accelerator_the_base_is_in_memory_and_answers_the_same(post_json, random_world, adco_token,
                                                                           monkeypatch):
    from sitealert.feed import lookup

    monkeypatch.setattr(lookup, "current_matcher", lookup.CurrentMatcher(mapped=False))
    _rng, _names, items = random_world
    agree_with_a_query_of_the_aggregated_list(post_json, adco_token, items)
    assert lookup_bases()[1] == []
