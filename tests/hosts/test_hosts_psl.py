"""registrable_domain and is_public_suffix against the Public Suffix List's own test vectors."""

import re
from pathlib import Path

import publicsuffixlist
import pytest
from publicsuffixlist import PublicSuffixList

from sitealert.hosts import covering_targets, is_public_suffix, registrable_domain

PACKAGE_VECTORS = Path(publicsuffixlist.__file__).parent
SHARED_VECTORS = Path(__file__).parents[2].parent / "shared" / "conformance" / "psl"

_CHECK = re.compile(r"checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);")


def _value(token: str) -> str | None:
    return None if token == "null" else token.strip("'")


def _read_test_psl(path: Path) -> set[tuple[str | None, str | None]]:
    vectors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _CHECK.match(line.strip())
        if match:
            vectors.add((_value(match[1]), _value(match[2])))
    return vectors


def _read_tests_txt(path: Path) -> set[tuple[str | None, str | None]]:
    vectors = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("//"):
            host, expected = line.split()
            vectors.add((_value(host), _value(expected)))
    return vectors


def _all_vectors() -> list[tuple[str | None, str | None]]:
    vectors = _read_test_psl(PACKAGE_VECTORS / "test_psl.txt")
    if SHARED_VECTORS.is_dir():
        vectors |= _read_test_psl(SHARED_VECTORS / "test_psl.txt")
        vectors |= _read_tests_txt(SHARED_VECTORS / "tests.txt")
    return sorted(vectors, key=repr)


VECTORS = _all_vectors()


def test_vectors_were_found():
    assert len(VECTORS) >= 70


def test_every_available_vector_is_collected():
    """The package's vectors always, and ../shared's where it is checked out next to the repo: a
    user's clone has none, and CI must pass there too without skipping anything."""
    available = _read_test_psl(PACKAGE_VECTORS / "test_psl.txt")
    if SHARED_VECTORS.is_dir():
        shared = _read_test_psl(SHARED_VECTORS / "test_psl.txt") | _read_tests_txt(SHARED_VECTORS / "tests.txt")
        assert shared, f"no vectors read from {SHARED_VECTORS}"
        available |= shared
    assert available and available <= set(VECTORS)


@pytest.mark.parametrize(("host", "expected"), VECTORS, ids=[repr(v) for v in VECTORS])
def test_registrable_domain_vector(host, expected):
    assert registrable_domain(host) == expected


def _hosts_from_every_rule():
    """A host at, just below and two below each rule, with wildcards filled in."""
    with open(publicsuffixlist.PSLFILE, encoding="utf-8") as rules:
        for line in rules:
            rule = line.strip().split(" ")[0].lower()
            if not rule or rule.startswith("//"):
                continue
            rule = rule.lstrip("!").replace("*", "wild")
            yield rule
            yield "a." + rule
            yield "b.a." + rule
            yield "www." + rule


def test_trie_walk_agrees_with_publicsuffixlist_on_every_rule():
    psl = PublicSuffixList()
    disagreements = [
        (host, registrable_domain(host), psl.privatesuffix(host))
        for host in _hosts_from_every_rule()
        if registrable_domain(host) != psl.privatesuffix(host)
    ]
    assert disagreements == []


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("com", True),
        ("co.uk", True),
        ("CO.UK.", True),
        ("blogspot.com", True),
        ("c.kobe.jp", True),
        ("kobe.jp", True),
        ("city.kobe.jp", False),
        ("unlisted-tld", True),
        ("example.com", False),
        ("foo.blogspot.com", False),
        ("", False),
        ("a..com", False),
    ],
)
def test_is_public_suffix(host, expected):
    assert is_public_suffix(host) is expected


@pytest.mark.parametrize("host", ["192.168.1.1", "127.1", "0x7f.0.0.1", "example.123"])
def test_registrable_domain_of_ip_like_names_is_none(host):
    assert registrable_domain(host) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("a.b.example.co.uk", ["a.b.example.co.uk", "b.example.co.uk", "example.co.uk"]),
        ("example.com", ["example.com"]),
        ("foo.blogspot.com", ["foo.blogspot.com"]),
        ("www.foo.blogspot.com", ["www.foo.blogspot.com", "foo.blogspot.com"]),
        ("a.b.c.kobe.jp", ["a.b.c.kobe.jp", "b.c.kobe.jp"]),
        ("www.city.kobe.jp", ["www.city.kobe.jp", "city.kobe.jp"]),
        ("co.uk", []),
        ("android:com.example.app", ["android:com.example.app"]),
        ("ios:123", ["ios:123"]),
    ],
)
def test_covering_targets(target, expected):
    assert covering_targets(target) == expected
