"""Properties of normalize_target over arbitrary and paste-like input."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitealert.hosts import (
    MESSAGES,
    InvalidTarget,
    covering_targets,
    normalize_target,
    registrable_domain,
    target_kind,
    targets,
)

pytestmark = pytest.mark.slow  # thousands of examples each

# Every code point, lone surrogates included: text from a badly decoded file can carry them.
any_text = st.text(st.characters(exclude_categories=()), max_size=80)

_label_chars = st.sampled_from(
    list("abcxyzABCXYZ0129-_") + ["ü", "ß", "é", "Ä", "食", "狮", "ｅ", "Ｅ", "п", "р", "\u200d", "%", "*", " "]
)
_labels = st.text(_label_chars, min_size=1, max_size=12)
_suffixes = st.sampled_from(
    ["com", "co.uk", "blogspot.com", "kobe.jp", "ck", "中国", "公司.cn", "рф", "example", "ＣＯＭ", "123", "0x1f"]
)


@st.composite
def pasted(draw):
    """Something a person might paste: a host under a real suffix, dressed as a URL or not."""
    host = ".".join(draw(st.lists(_labels, min_size=0, max_size=3)) + [draw(_suffixes)])
    host = draw(st.sampled_from(["", "*.", ".", "www."])) + host + draw(st.sampled_from(["", ".", "。"]))
    scheme = draw(st.sampled_from(["", "http://", "HTTPS://", "//", "ftp://", "mailto:", "ｈｔｔｐ：／／"]))
    userinfo = draw(st.sampled_from(["", "user@", "user:pw@"])) if scheme else ""
    port = draw(st.sampled_from(["", ":80", ":8080", ":", ":x"]))
    tail = draw(st.sampled_from(["", "/", "/path?q=1", "?id=com.a.b", "#frag", "/id123"]))
    blanks = draw(st.sampled_from(["", " ", "\t", "\ufeff"]))
    return blanks + scheme + userinfo + host + port + tail + blanks


def _refusal_is_well_formed(refused: InvalidTarget) -> None:
    assert refused.code in MESSAGES
    assert str(refused)
    assert str(refused) == MESSAGES[refused.code].format(**refused.params)


def _canonical_properties(result: str) -> None:
    assert normalize_target(result) == result
    if target_kind(result) == "app":
        return
    assert result.isascii() and result == result.lower()
    assert not result.endswith(".") and len(result) <= 253
    covering = covering_targets(result)
    assert covering[0] == result
    assert covering[-1] == registrable_domain(result)


def _normalizes_or_is_refused_with_a_reason(text):
    try:
        result = normalize_target(text)
    except InvalidTarget as refused:
        _refusal_is_well_formed(refused)
    else:
        _canonical_properties(result)


@given(any_text)
@example("\ud800.com")
@example("http://[")
@example("xn--.com")
@example("a:b:c")
@settings(max_examples=1000)
def test_arbitrary_text_normalizes_or_is_refused_with_a_reason(text):
    _normalizes_or_is_refused_with_a_reason(text)


@given(pasted())
@settings(max_examples=1000)
def test_pasted_input_normalizes_idempotently_or_is_refused_with_a_reason(text):
    _normalizes_or_is_refused_with_a_reason(text)


@given(st.one_of(
    pasted(),
    st.from_regex(r"(?i:https?://)?(?:[a-zA-Z0-9_-]{1,12}\.){1,3}[a-zA-Z][a-zA-Z0-9-]{0,8}(?:[/?#\\: @%.][ -~]{0,20})?",
                  fullmatch=True),
))
@example("HTTPS://WWW.Example.COM/Watch?v=1")
@example("http://play.google.com/store/apps/details?id=com.Example.App")
@example("https://a.example:8080/")
@example("http://user@a.example/")
@example("https:///a.example")
@example("FILMS.CO.UK")
@example("CO.UK")
@settings(max_examples=2000)
def test_the_common_forms_shortcut_agrees_with_the_full_normalizer(text):
    shortcut = targets._common_form(text)
    if shortcut is not None:
        assert shortcut == targets._normalize(text)


@given(st.from_regex(targets._CANONICAL_HOST, fullmatch=True))
@settings(max_examples=1000)
def test_fast_path_agrees_with_the_full_normalizer(host):
    try:
        slow = targets._normalize(host)
    except InvalidTarget as refused:
        slow = refused.code
    try:
        fast = normalize_target(host)
    except InvalidTarget as refused:
        fast = refused.code
    assert fast == slow
