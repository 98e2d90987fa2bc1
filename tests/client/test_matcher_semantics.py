"""The matching rules of SPEC §2, on both matcher tables (pure Python and the C accelerator)."""

import pytest

from sitealert.matcher import Match, Matcher
from sitealert.matcher.core import UNDECIDED

LISTED = [
    ("example.com", ["IT", "FR"], ["streaming-video"]),
    ("video.example.org", ["KR"], ["live-sports-iptv"]),
    ("amazonaws.com", ["FR"], ["cyberlocker"]),  # has Public Suffix List rules below it
    ("foo.blogspot.com", ["IT"], ["publishing"]),
    ("xn--bcher-kva.example", ["FR"], ["publishing"]),  # bücher.example
    ("android:com.Example.Player", ["IT"], ["streaming-video"]),
    ("ios:389801252", ["FR"], ["streaming-music"]),
]


@pytest.fixture
def matcher(matcher_kind):
    return Matcher(LISTED, **matcher_kind)


@pytest.mark.parametrize("item, matched", [
    ("example.com", "example.com"),
    ("www.example.com", "example.com"),
    ("a.b.c.example.com", "example.com"),
    ("example.org", None),  # a listed subdomain does not cover its parent
    ("video.example.org", "video.example.org"),
    ("cdn.video.example.org", "video.example.org"),
    ("audio.example.org", None),  # nor its siblings
    ("notexample.com", None),  # a label boundary, not a string suffix
    ("example.com.evil.net", None),
    ("x.amazonaws.com", "amazonaws.com"),
    # s3.amazonaws.com is a public suffix: refused by the normalizer, so not listed; below it,
    # bucket.s3.amazonaws.com has its own registrable domain, which amazonaws.com does not cover.
    ("s3.amazonaws.com", None),
    ("bucket.s3.amazonaws.com", None),
    ("foo.blogspot.com", "foo.blogspot.com"),
    ("www.foo.blogspot.com", "foo.blogspot.com"),
    ("bar.blogspot.com", None),
    ("bücher.example", "xn--bcher-kva.example"),
    ("https://www.BÜCHER.example/seite", "xn--bcher-kva.example"),
    ("android:com.Example.Player", "android:com.Example.Player"),
    ("ANDROID:com.Example.Player", "android:com.Example.Player"),
    ("android:com.example.player", None),  # Play ids are case-sensitive
    ("https://play.google.com/store/apps/details?id=com.Example.Player&hl=fr", "android:com.Example.Player"),
    ("ios:389801252", "ios:389801252"),
    ("ios:id389801252", "ios:389801252"),
    ("https://apps.apple.com/fr/app/some-name/id389801252", "ios:389801252"),
    ("ios:1", None),
])
def test_subdomains_parents_siblings_and_apps(matcher, item, matched):
    result = matcher.check(item)
    assert (result.target if result else None) == matched


@pytest.mark.parametrize("item", [
    "https://www.example.com/watch?v=1",
    "http://user:secret@Example.COM:8080/path#frag",
    "HTTPS://EXAMPLE.COM",
    "  www.example.com.  ",
    "//cdn.example.com/x.js",
    "example.com:443/path",
    "*.example.com",
    "ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ",  # full-width
    "https://www.example.com\\@other.net/",
])
def test_raw_urls_and_messy_hosts_go_through_the_normalizer(matcher, item):
    assert matcher.check(item).target == "example.com"


@pytest.mark.parametrize("item", ["", "   ", "com", "co.uk", "127.0.0.1", "http://[::1]/", "mailto:a@example.com",
                                  "example", "exa mple.com", "https://play.google.com/store", None])
def test_refused_input_is_not_listed(matcher, item):
    assert matcher.check(item) is None


def test_match_carries_countries_and_categories(matcher):
    assert matcher.check("www.example.com") == Match("example.com", ("FR", "IT"), ("streaming-video",))


def test_most_specific_listed_target_wins(matcher_kind):
    matcher = Matcher(["example.com", "video.example.com"], **matcher_kind)
    assert matcher.check("a.video.example.com").target == "video.example.com"
    assert matcher.check("other.example.com").target == "example.com"


def test_same_target_twice_merges_countries_and_categories(matcher_kind):
    matcher = Matcher([("example.com", ["IT"], ["publishing"]), ("example.com", ["FR"], ["other"])], **matcher_kind)
    assert matcher.check("example.com") == Match("example.com", ("FR", "IT"), ("other", "publishing"))
    assert len(matcher) == 1


def test_check_many_keeps_order_and_takes_any_iterable(matcher):
    items = ["nothing.net", "www.example.com", "ios:389801252", "EXAMPLE.COM", "bad item"]
    expected = [None, "example.com", "ios:389801252", "example.com", None]
    assert [m.target if m else None for m in matcher.check_many(items)] == expected
    assert [m.target if m else None for m in matcher.check_many(iter(items))] == expected
    assert matcher.check_many([]) == []


def test_non_string_items_are_a_type_error(matcher):
    with pytest.raises(TypeError):
        matcher.check(42)
    with pytest.raises(TypeError):
        matcher.check_many(["example.com", b"example.com"])


def test_exact_lookups_and_iteration(matcher):
    assert "example.com" in matcher
    assert "www.example.com" not in matcher  # membership is exact; check() walks
    assert matcher.get("ios:389801252").countries == ("FR",)
    assert matcher.get("www.example.com") is None
    assert sorted(matcher) == sorted(t for t, _, _ in LISTED)


def test_validate_refuses_non_canonical_targets(matcher_kind):
    with pytest.raises(ValueError, match="canonical"):
        Matcher(["Example.com"], validate=True, **matcher_kind)
    Matcher(["example.com", "android:com.example.app"], validate=True, **matcher_kind)


def test_canonical_hosts_and_simple_urls_never_need_the_normalizer(matcher_kind):
    """The fast path decides ordinary input itself (this is what makes check_many fast)."""
    matcher = Matcher(LISTED, **matcher_kind)
    items = ["www.example.com", "example.net", "a.b.video.example.org", "https://cdn.example.com:8443/x?y#z",
             "http://nothing.org", "android:com.other.App", "ios:123", "amazonaws.com"]
    results, undecided = matcher._table.check_many(items)
    assert undecided == 0
    assert UNDECIDED not in results
    # Below a target with Public Suffix List rules under it, the normalizer has the last word.
    assert matcher._table.check("x.amazonaws.com") is UNDECIDED
