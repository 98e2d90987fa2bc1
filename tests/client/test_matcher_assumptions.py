"""What the matcher's fast paths assume about sitealert.hosts, stated and checked.

The tables decide some items without calling normalize_target (sitealert/matcher/_pure.py,
_speedups.c). That is only right while the normalizer keeps these properties; if one of these
tests fails after a change to sitealert.hosts, change the fast paths with it.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sitealert.hosts import InvalidTarget, covering_targets, normalize_target
from sitealert.matcher import Matcher
from sitealert.matcher._pure import _CANONICAL_HOST, STORE_HOSTS, is_canonical_host_shape
from sitealert.matcher.suffix_rules import rule_parents

LABEL = st.from_regex(r"[a-z0-9_-]{1,12}", fullmatch=True)
TOP = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
HOSTS = st.builds(lambda labels, top: ".".join(labels + [top]), st.lists(LABEL, min_size=1, max_size=4), TOP)
PUBLICISH = st.sampled_from(["com", "co.uk", "blogspot.com", "s3.amazonaws.com", "github.io", "kawasaki.jp", "ck"])


def _normalized(text):
    try:
        return normalize_target(text)
    except InvalidTarget as exc:
        return ("refused", exc.code)


def test_the_fast_shape_is_the_normalizer_s_own():
    from sitealert.hosts import targets

    assert _CANONICAL_HOST.pattern == targets._CANONICAL_HOST.pattern


@settings(max_examples=400, deadline=None)
@given(host=st.one_of(HOSTS, st.builds(lambda h, p: h + "." + p, HOSTS, PUBLICISH)))
def test_a_canonical_shaped_host_is_returned_unchanged_or_refused_as_a_public_suffix(host):
    if not is_canonical_host_shape(host):
        return
    normalized = _normalized(host)
    if normalized[0] == "refused" and normalized[1].startswith("unregistrable_"):
        return  # a name no registry issues: see the next test
    assert normalized in (host, ("refused", "public_suffix"))


@settings(max_examples=400, deadline=None)
@given(host=st.one_of(HOSTS, st.builds(lambda h, p: h + "." + p, HOSTS, PUBLICISH)))
def test_a_canonical_shaped_host_refused_as_unregistrable_is_covered_by_no_listable_target(host):
    """The tables answer None (not listed) for such a host, as the full path does for a refused
    item: right because no name that could be listed covers it. Its parents up to its registrable
    domain are refused too, and a listable name above a suffix rule (amazonaws.com above
    s3.amazonaws.com) does not cover what lies under that rule."""
    if not is_canonical_host_shape(host):
        return
    normalized = _normalized(host)
    if normalized[0] != "refused" or not normalized[1].startswith("unregistrable_"):
        return
    labels = host.split(".")
    listable = [p for p in (".".join(labels[i:]) for i in range(1, len(labels))) if _normalized(p)[0] != "refused"]
    assert Matcher(listable).check(host) is None, listable


@settings(max_examples=400, deadline=None)
@given(host=HOSTS, scheme=st.sampled_from(["http://", "https://"]),
       port=st.sampled_from(["", ":", ":80", ":08080", ":65535"]),
       rest=st.sampled_from(["", "/", "/a?b#c", "?q=1", "#x", "\\x", "/ spaces and \t tabs", "/@user"]))
def test_a_simple_url_names_its_host(host, scheme, port, rest):
    if not is_canonical_host_shape(host) or host in STORE_HOSTS:
        return
    assert _normalized(scheme + host + port + rest) == _normalized(host)


@settings(max_examples=300, deadline=None)
@given(host=HOSTS)
def test_coverage_stops_only_where_a_suffix_rule_sits_below_a_parent(host):
    """A parent p of a canonical host is missing from covering_targets only when the Public
    Suffix List has a rule below p (the matcher's 'risky' targets, left to the normalizer)."""
    canonical = _normalized(host)
    if not isinstance(canonical, str):
        return
    labels = canonical.split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels))]
    covering = set(covering_targets(canonical))
    for parent in parents:
        if parent not in covering and _normalized(parent) == parent:
            assert parent in rule_parents()


@pytest.mark.parametrize("app", ["android:com.Example.App", "android:a.b_c.D9", "ios:1", "ios:12345678901234567890"])
def test_canonical_app_ids_are_fixed_points(app):
    assert normalize_target(app) == app


def test_store_hosts_are_the_normalizer_s():
    from sitealert.hosts import apps

    assert {apps.GOOGLE_PLAY, *apps.APPLE_STORES} == STORE_HOSTS
