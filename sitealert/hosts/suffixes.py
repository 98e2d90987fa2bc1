"""Public Suffix List lookups over the copy shipped in the pinned publicsuffixlist package.

The rules are read from the package's data file (never fetched) into a label trie instead of
calling PublicSuffixList.publicsuffix(): that method costs ~2.6 µs a call, more than the whole
normalize_target budget for the million-row import. tests/hosts/test_hosts_psl.py checks this
walk against the package's own answer for every rule in the list.
"""

import functools
from typing import cast

import idna
from publicsuffixlist import PSLFILE

_RULE = 1  # "example.com" is listed
_WILDCARD = 2  # "*.example.com" is listed
_EXCEPTION = 4  # "!www.example.com" is listed

# A trie node is (children: dict[label, node], flags: int).
_Node = tuple[dict, int]


def _insert(root: dict, labels: list[str], flag: int) -> None:
    children = root
    node: list | None = None
    for label in reversed(labels):
        node = children.setdefault(label, [{}, 0])
        children = node[0]
    assert node is not None, "a rule has at least one label"
    node[1] |= flag


def _a_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return idna.alabel(label).decode("ascii")
    except idna.IDNAError:
        return label.encode("idna").decode("ascii")  # IDNA 2003, as publicsuffixlist does


def _freeze(node: list) -> _Node:
    return ({label: _freeze(child) for label, child in node[0].items()}, node[1])


@functools.cache
def _trie() -> _Node:
    root: list = [{}, 0]
    with open(PSLFILE, encoding="utf-8") as rules:
        for line in rules:
            rule = line.strip().split(" ")[0].lower()
            if not rule or rule.startswith("//"):
                continue
            flag = _RULE
            if rule.startswith("!"):
                flag, rule = _EXCEPTION, rule[1:]
            labels = rule.split(".")
            if labels[0] == "*":
                flag, labels = _WILDCARD, labels[1:]
            _insert(root[0], labels, flag)
            a_labels = [_a_label(label) for label in labels]
            if a_labels != labels:
                _insert(root[0], a_labels, flag)
    return _freeze(root)


def public_label_count(labels: list[str]) -> int:
    """How many trailing labels form the public suffix (at least 1: unlisted TLDs count as public).

    labels must be lower case and non-empty.
    """
    count = 1
    children, flags = _trie()
    for depth, label in enumerate(reversed(labels), start=1):
        node = children.get(label)
        if node is None:
            if flags & _WILDCARD:
                count = depth
            return count
        children, child_flags = node
        if child_flags & _EXCEPTION:
            return depth - 1
        # A wildcard rule "*.kobe.jp" makes "kobe.jp" itself public too, as the PSL tests expect.
        if child_flags & (_RULE | _WILDCARD) or flags & _WILDCARD:
            count = depth
        flags = child_flags
    return count


def is_listed_tld(label: str) -> bool:
    """Whether a single label is a top-level suffix the PSL names (com, uk), not just unlisted."""
    node = _trie()[0].get(label)
    return node is not None and bool(node[1] & (_RULE | _WILDCARD))


def ends_in_number(labels: list[str]) -> bool:
    """WHATWG URL "ends in a number": the host would be parsed as IPv4 by a browser."""
    last = labels[-1]
    if not last[:1].isdigit():  # decimal, 0x-hex and 0-octal numbers all start with a digit
        return False
    if last.isascii() and last.isdigit():
        return True
    return ipv4_number(last) is not None


def ipv4_number(part: str) -> int | None:
    """Parse one part of a WHATWG IPv4 address (decimal, 0x-hex or 0-octal), None if it is not one."""
    if not part or not part.isascii():
        return None
    base = 10
    if part[:2] in ("0x", "0X"):
        part, base = part[2:], 16
        if not part:
            return 0
    elif len(part) > 1 and part[0] == "0":
        part, base = part[1:], 8
    try:
        return int(part, base) if part.isalnum() else None
    except ValueError:
        return None


def is_ipv4(labels: list[str]) -> bool:
    """Whether a browser would read these labels as an IPv4 address (127.1, 0x7f.0.0.1, 2130706433…)."""
    if len(labels) > 4:
        return False
    numbers = [ipv4_number(label) for label in labels]
    if None in numbers:
        return False
    valid = cast("list[int]", numbers)
    if any(number > 255 for number in valid[:-1]):
        return False
    limit: int = 256 ** (5 - len(labels))  # 5 - len(labels) >= 1: an int, not a float
    return valid[-1] < limit


def _labels(host: str | None) -> list[str] | None:
    if not host:
        return None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if "" in labels:
        return None
    return labels


def registrable_domain(host: str | None) -> str | None:
    """The eTLD+1 of host per the full PSL (ICANN and PRIVATE sections), lower-cased.

    None for a public suffix itself, an empty or malformed name (empty label, leading dot), or a
    name ending in a number (an IP address). Unicode and punycode input both work; the answer keeps
    the input's form.
    """
    labels = _labels(host)
    if labels is None or ends_in_number(labels):
        return None
    public = public_label_count(labels)
    if public >= len(labels):
        return None
    return ".".join(labels[-public - 1 :])


def is_public_suffix(host: str) -> bool:
    """Whether host is itself a public suffix (com, co.uk, blogspot.com, or any unlisted TLD)."""
    labels = _labels(host)
    if labels is None:
        return False
    return public_label_count(labels) >= len(labels)
