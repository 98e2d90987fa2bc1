"""screen_bid_request: OpenRTB 2.x bid requests blocked or passed, never an exception for bad input."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitealert.client import Replica, ReplicaDamaged, screen_bid_request

LISTED = [("example.com", ["IT"], ["streaming-video"]), ("ref.example.net", ["FR"], ["cyberlocker"]),
          ("android:com.Example.Player", ["KR"], ["streaming-music"]), ("ios:389801252", ["FR"], ["other"])]


@pytest.fixture(scope="module")
def replica():
    return Replica.from_targets(LISTED)


@pytest.mark.parametrize("request_, field, target", [
    ({"site": {"domain": "www.example.com"}}, "site.domain", "example.com"),
    ({"site": {"domain": "news.example.org", "page": "https://video.example.com/watch?v=1"}}, "site.page",
     "example.com"),
    ({"site": {"page": "https://clean.example.org/", "ref": "https://go.ref.example.net/x"}}, "site.ref",
     "ref.example.net"),
    ({"app": {"bundle": "com.Example.Player"}}, "app.bundle", "android:com.Example.Player"),
    ({"app": {"bundle": "389801252"}}, "app.bundle", "ios:389801252"),
    ({"app": {"bundle": "id389801252"}}, "app.bundle", "ios:389801252"),
    ({"app": {"bundle": "com.other.app", "storeurl": "https://apps.apple.com/us/app/x/id389801252"}},
     "app.storeurl", "ios:389801252"),
    ({"app": {"bundle": "com.other.app", "domain": "example.com"}}, "app.domain", "example.com"),
])
def test_listed_fields_block_and_say_which(replica, request_, field, target):
    verdict = screen_bid_request(replica, {"id": "1", "imp": [{"id": "1"}], **request_})
    assert (verdict.blocked, verdict.field, verdict.target) == (True, field, target)
    assert verdict.problems == ()


def test_clean_requests_pass(replica):
    verdict = screen_bid_request(replica, {"site": {"domain": "example.org", "page": "https://example.org/a"},
                                           "app": None})
    assert (verdict.blocked, verdict.field, verdict.match, verdict.problems) == (False, None, None, ())


def test_fields_can_be_chosen(replica):
    request = {"site": {"page": "https://clean.example.org/", "ref": "https://ref.example.net/"}}
    assert screen_bid_request(replica, request, fields=("site.domain", "site.page")).blocked is False


def test_the_verdict_as_a_dict_for_logs(replica):
    verdict = screen_bid_request(replica, json.dumps({"site": {"page": "http://www.example.com/"}}))
    assert verdict.as_dict() == {"blocked": True, "field": "site.page", "value": "http://www.example.com/",
                                 "target": "example.com", "countries": ["IT"], "categories": ["streaming-video"],
                                 "problems": []}


@pytest.mark.parametrize("request_, problem", [
    (None, "the request is null, not an object"),
    ([1, 2], "the request is list, not an object"),
    ("{not json", "the request is not valid JSON"),
    (b"\xff\xfe", "the request is not valid JSON"),
    ({}, "neither site nor app is present"),
    ({"site": "example.com"}, "site is str, not an object"),
    ({"site": {"domain": 42}}, "site.domain is int, not a string"),
    ({"site": {"page": ["https://example.com"]}}, "site.page is list, not a string"),
    ({"site": {"domain": "a" * 9000}}, "longer than 8192"),
    ({"site": {"domain": "example.org"}, "app": {"bundle": "x"}}, "both site and app"),
])
def test_malformed_requests_say_what_is_wrong_and_never_raise(replica, request_, problem):
    verdict = screen_bid_request(replica, request_)
    assert verdict.blocked is False
    assert any(problem in p for p in verdict.problems), verdict.problems


def test_a_malformed_field_does_not_hide_a_listed_one(replica):
    verdict = screen_bid_request(replica, {"site": {"domain": 7, "page": "https://www.example.com/"}})
    assert verdict.blocked and verdict.field == "site.page"
    assert verdict.problems == ("site.domain is int, not a string",)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                    max_size=3), max_leaves=10)


@settings(max_examples=300, deadline=None)
@given(site=json_values, app=json_values, domain=json_values)
def test_any_json_shape_gets_a_verdict(site, app, domain):
    replica = Replica.from_targets(["example.com"])
    for request in ({"site": site, "app": app}, {"site": {"domain": domain}}, {"app": {"bundle": domain}}, site):
        verdict = screen_bid_request(replica, request)
        assert isinstance(verdict.blocked, bool)


def test_a_damaged_replica_is_not_the_request_s_fault(tmp_path):
    (tmp_path / "MANIFEST.json").write_text("{}")
    with pytest.raises(ReplicaDamaged):
        screen_bid_request(Replica(tmp_path), {"site": {"domain": "example.com"}})
