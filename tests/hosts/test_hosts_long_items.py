"""An item's length cannot make normalization slow: what is longer than a host name can be is refused
by its length before the work whose cost grows with it (percent-decoding, IDNA mapping, patterns)."""

import time
from urllib.parse import quote

import pytest

from sitealert.hosts import InvalidTarget, normalize_target
from sitealert.hosts.targets import MAX_ENCODED_HOST_CHARACTERS, MAX_HOST_CHARACTERS

N = 120_000

# Shapes that cost seconds or quadratic time before: blanks inside (a pattern anchored at the end
# retried from each), Unicode and full-width text (IDNA mapping), escapes, long app ids.
HOSTILE = [
    "a" + " " * N + "b", " \u200b" * N + "x.com", "x.com" + " \u200b" * N, "é" * N, "é." * (N // 2), "ａ" * N,
    "\u3000" * N + "x.com", "%41" * N, "%" * N, "a\u00ad" * N, "a." * N, "https://" + "a" * N + "/",
    "https://example.com/" + "é" * N, "android:" + "a." * N, "ios:" + "1" * N, "a:" * N, "[" + ":" * N,
    "http://" + "a@" * N + "x.com", "https://play.google.com/store/apps/details?" + "id=a&" * (N // 5),
]


def test_hostile_long_items_are_answered_in_bounded_time():
    started = time.perf_counter()
    for item in HOSTILE:
        try:
            normalize_target(item)
        except InvalidTarget:
            pass
    # About 1 ms an item now; the blanks alone took minutes before.
    assert time.perf_counter() - started < 3


@pytest.mark.parametrize("item", [
    "a" * 300 + ".example", "é" * 300 + ".example", "https://" + "a." * 200 + "example.com/path",
    "%61" * 1100 + ".example",
])
def test_a_host_longer_than_a_name_can_be_is_refused_by_its_length(item):
    with pytest.raises(InvalidTarget) as refused:
        normalize_target(item)
    assert refused.value.code == "name_too_long"


def test_names_up_to_the_limit_are_still_normalized():
    longest = ".".join(["a" * 63] * 3 + ["b" * 57, "com"])
    assert len(longest) == 253
    assert normalize_target(f"  *.{longest.upper()}.  ") == longest
    # A Unicode name written with percent escapes takes far more characters than it has.
    unicode_name = "ü" * 30 + "." + "ü" * 30 + ".example"
    escaped = quote(unicode_name)
    assert len(escaped) > MAX_HOST_CHARACTERS
    assert normalize_target(f"https://{escaped}/x") == normalize_target(unicode_name)
    assert len("%F0%9F%98%80") * MAX_HOST_CHARACTERS == MAX_ENCODED_HOST_CHARACTERS
    # Blanks and invisible characters around an item still go.
    assert normalize_target(" \u200b\t x.com \u3000\ufeff") == "x.com"
    assert normalize_target("ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ／" + "é" * N) == "example.com"


def test_app_ids_longer_than_a_package_name_can_be_are_refused():
    package = "com.example." + "a" * 243
    assert normalize_target("android:" + package) == "android:" + package
    with pytest.raises(InvalidTarget) as refused:
        normalize_target("android:" + package + "a")
    assert refused.value.code == "bad_app_id"
