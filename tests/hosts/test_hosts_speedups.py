"""The C accelerator of normalize_target (sitealert/hosts/_speedups.c) against the Python paths.

It may decline any text (None: the Python paths decide), but what it returns must be what the
Python normalizer returns, and it must decide the shapes a large list is made of.
"""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitealert.hosts import InvalidTarget, normalize_target, targets

pytestmark = pytest.mark.skipif(targets._common_target is None,
                                reason="sitealert.hosts._speedups is not built (or SITEALERT_PURE_PYTHON=1)")


def python_answer(text):
    try:
        return targets._python_normalize_target(text)
    except InvalidTarget as refused:
        return refused.code


def assert_agrees(text):
    found = targets._common_target(text)
    if found is not None:
        assert found == python_answer(text), text


DECIDED = {
    "example.com": "example.com",
    "films12.example": "films12.example",
    "EXAMPLE.COM": "example.com",
    "https://www.Example.com/watch?v=1": "www.example.com",
    "http://a.b.co.uk": "a.b.co.uk",
    "HTTP://cdn3.films1.test#top": "cdn3.films1.test",
    "sub_x.blog.com": "sub_x.blog.com",
    "r3---sn-abc.googlevideo.com": "r3---sn-abc.googlevideo.com",
    "a.foo.kobe.jp": "a.foo.kobe.jp",  # under the wildcard *.kobe.jp
    "www.city.kobe.jp": "www.city.kobe.jp",  # the exception !city.kobe.jp
    "play.google.com": "play.google.com",  # the store's own name, not a page of it
    "example.com\\path": "example.com",
    "a" * 63 + ".com": "a" * 63 + ".com",
}

DECLINED = [
    "co.uk", "foo.kobe.jp", "com",  # public suffixes: refused, with the Python path's reason
    "xn--bcher-kva.example", "abxn--c.com",  # A-labels are checked by the Python path
    "my_blog.com", "-a.com", "a-.com", "ab--c.com",  # unregistrable labels
    "https://play.google.com/store/apps/details?id=com.x", "http://apps.apple.com/app/id1",  # store pages
    "x.com:80", "http://x.com:80/", "user@x.com", "http://user@x.com", "example.com.", "*.example.com",
    "1.2.3.4", "a.123", "localhost", "https://", "http://.com", "a..com", "", " example.com", "exämple.com",
    "a" * 64 + ".com", ".".join(["a"] * 126) + ".com", "ftp://example.com", "example.c_m",
]


@pytest.mark.parametrize("text, expected", sorted(DECIDED.items()))
def test_the_common_shapes_are_decided_in_c(text, expected):
    assert targets._common_target(text) == expected
    assert python_answer(text) == expected
    assert normalize_target(text) == expected


@pytest.mark.parametrize("text", DECLINED)
def test_every_other_shape_is_left_to_the_python_paths(text):
    assert targets._common_target(text) is None
    try:
        answer = normalize_target(text)
    except InvalidTarget as refused:
        answer = refused.code
    assert answer == python_answer(text)


def test_text_that_is_not_a_str_is_left_to_the_python_paths():
    class Text(str):
        pass

    assert targets._common_target(Text("example.com")) is None
    assert targets._common_target(b"example.com") is None
    assert targets._common_target(None) is None


def test_a_canonical_name_comes_back_as_itself():
    text = "".join(["films", "7", ".example"])
    assert targets._common_target(text) is text


_ascii_host_chars = st.sampled_from(list("abcxyzABXZ0129-_.") + ["--", "xn--", "www.", ".co.uk", ".kobe.jp", ".ck"])
_suffixes = st.sampled_from(["com", "co.uk", "kobe.jp", "city.kobe.jp", "ck", "www.ck", "blogspot.com", "example",
                             "COM", "123", "google.com", "apple.com", "c0m", "x_y"])


@st.composite
def ascii_shapes(draw):
    """ASCII text around the fast paths' edges: cases, schemes, ports, paths, odd labels."""
    host = "".join(draw(st.lists(_ascii_host_chars, max_size=8)))
    host = (host + "." if host and draw(st.booleans()) else host) + draw(_suffixes)
    scheme = draw(st.sampled_from(["", "http://", "HTTPS://", "https:/", "hTTp://", "ftp://", "//"]))
    tail = draw(st.sampled_from(["", "/", "/a?b", "?q", "#f", "\\x", ":80", ":80/x", ".", "@x.com"]))
    return scheme + host + tail


@settings(max_examples=3000, deadline=None)
@given(ascii_shapes())
@example("play.google.com")
@example("HTTPS://PLAY.GOOGLE.COM/store")
@example("https://www.ck/")
@example("a.www.ck")
def test_the_accelerator_never_contradicts_the_python_paths(text):
    assert_agrees(text)


@settings(max_examples=1000, deadline=None)
@given(st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=60))
def test_the_accelerator_never_contradicts_the_python_paths_on_any_ascii(text):
    assert_agrees(text)


def test_the_accelerator_agrees_on_every_public_suffix_rule():
    """Every rule of the shipped list, as a name, under a name and as an address: the walk of the
    trie in C gives the Python walk's answer."""
    from sitealert.hosts.suffixes import _trie

    def rules(children, suffix):
        for label, (grandchildren, _) in children.items():
            name = f"{label}.{suffix}" if suffix else label
            yield name
            yield from rules(grandchildren, name)

    for rule in rules(_trie()[0], ""):
        if not rule.isascii():
            continue
        for text in (rule, f"films.{rule}", f"a.films.{rule}", f"https://Films.{rule.upper()}/x"):
            assert_agrees(text)
