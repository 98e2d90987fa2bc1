"""The matcher's table in pure Python: the fallback for `_speedups.Table`, with the same answers.

A table answers, for one item, the match of the most specific listed target that covers it,
``None`` (not listed), or ``undecided``; undecided items go to the full normalizer (see
`sitealert.matcher.core`). It decides only what it can prove equal to
``normalize_target(item)`` followed by a walk of ``covering_targets``:

- an item equal to a listed target: canonical targets are fixed points of the normalizer;
- a host of the normalizer's own fast-path shape (``_CANONICAL_HOST`` below, at most 253
  characters, no "xn--"): the normalizer returns it unchanged, refuses it as a public suffix, or
  refuses it as a name no registry issues ("my_blog.com"), which no listable target can cover,
  so "not listed" is the full path's answer too.
  A proper subdomain of a listed target can be a public suffix only when the Public Suffix List
  has rules below that target (``s3.amazonaws.com`` under ``amazonaws.com``); such targets are
  flagged *risky* and their subdomain matches stay undecided;
- an ``http://`` or ``https://`` URL whose authority is such a host, with an optional port of at
  most 65535 and no userinfo, and not an app store host (store pages normalize to app targets);
- a canonical ``android:<package>`` or ``ios:<digits>`` id: not listed unless it is a target.
"""

import mmap
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeAlias, TypeVar

from . import generation

# The match type (the matcher's Match) and the "undecided" sentinel the caller passes in.
M = TypeVar("M")
U = TypeVar("U")
Combo = tuple[tuple[str, ...], tuple[str, ...]]

RISKY = generation.RISKY
Buffer: TypeAlias = bytes | mmap.mmap | memoryview

# sitealert.hosts.targets._CANONICAL_HOST: the shape normalize_target returns unchanged.
_CANONICAL_HOST = re.compile(r"(?:[a-z0-9_-]{1,63}\.)+[a-z][a-z0-9-]{0,62}")
_URL = re.compile(r"https?://([^/\\?#@:]*)(?::([0-9]*))?(?=[/\\?#]|\Z)")
_ANDROID_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")
_IOS_ID = re.compile(r"[1-9][0-9]{0,19}")
STORE_HOSTS = frozenset({"play.google.com", "apps.apple.com", "itunes.apple.com"})


def is_canonical_host_shape(host: str) -> bool:
    return len(host) <= 253 and _CANONICAL_HOST.fullmatch(host) is not None and "xn--" not in host


class Table(Generic[M, U]):
    """Same constructor and methods as `_speedups.Table`: over generation files (see generation.py),
    a base and an optional overlay, read into a dict when the table is made (the C table uses the
    files in place; this fallback is correct, not fast)."""

    def __init__(self, base: Buffer, overlay: Buffer | None, combos: list[Combo],
                 match_type: Callable[[str, tuple[str, ...], tuple[str, ...]], M], undecided: U) -> None:
        parts = [generation.from_bytes(bytes(base))]
        if overlay is not None:
            parts.append(generation.from_bytes(bytes(overlay)))
        self._parts = parts
        self._total = parts[-1].header.total
        self._combos = combos
        self._match_type = match_type
        self._records: dict[str, tuple[int, int]] = {}
        self._matches: dict[str, M] = {}
        self._risky: set[str] = set()
        depths = set()
        for part in parts:
            for target, meta, first in generation.iter_records(part.records):
                if meta & generation.TOMBSTONE:
                    self._records.pop(target, None)
                    self._matches.pop(target, None)
                    continue
                self._records[target] = (meta, first)
                combo_index = meta & generation.COMBO_MASK
                if combo_index >= len(combos):
                    raise ValueError("a record of the generation file names no combo (damaged file)")
                countries, categories = combos[combo_index]
                self._matches[target] = match_type(target, countries, categories)
                if meta & RISKY:
                    self._risky.add(target)
                else:
                    self._risky.discard(target)
                if ":" not in target:
                    depths.add(min(target.count(".") + 1, 63))
        self._depths = frozenset(depths)
        self._undecided = undecided

    def __len__(self) -> int:
        return self._total

    def get(self, target: str) -> M | None:
        return self._matches.get(target) if target.__class__ is str else None

    def record(self, target: str) -> tuple[int, int] | None:
        return self._records.get(target) if target.__class__ is str else None

    def _merged(self, keep_tombstones: bool = False) -> Iterator[tuple[str, int, int]]:
        records = [generation.iter_records(part.records) for part in self._parts]
        if len(records) == 1:
            return records[0]
        return generation.merged(records[0], records[1], keep_tombstones=keep_tombstones)

    def targets(self) -> list[str]:
        return [target for target, _meta, _first in self._merged()]

    def feed(self, callback: Callable[[bytes], object], records: bool, chunk: int,
             keep_tombstones: bool = False) -> int:
        return generation.feed_chunks(self._merged(keep_tombstones), callback, records, chunk)

    def nbytes(self) -> int:
        return 0

    def check_many(self, items: Sequence[str]) -> tuple[list[M | U | None], int]:
        check = self.check
        undecided = self._undecided
        results = [check(item) for item in items]
        return results, sum(1 for r in results if r is undecided)

    def check(self, item: str) -> M | U | None:
        if item.__class__ is not str or not item.isascii():
            return self._undecided
        match = self._matches.get(item)
        if match is not None:
            return match
        if item.startswith(("http://", "https://")):
            return self._check_url(item)
        result = self._check_host(item)
        if result is not self._undecided:
            return result
        if item.startswith("android:") and _ANDROID_PACKAGE.fullmatch(item, 8):
            return None
        if item.startswith("ios:") and _IOS_ID.fullmatch(item, 4):
            return None
        return self._undecided

    def _check_url(self, url: str) -> M | U | None:
        found = _URL.match(url)
        if found is None:
            return self._undecided
        host, port = found.group(1, 2)
        if port and int(port) > 65535 or host in STORE_HOSTS:
            return self._undecided
        return self._check_host(host)

    def _check_host(self, host: str) -> M | U | None:
        if not is_canonical_host_shape(host):
            return self._undecided
        labels = host.count(".") + 1
        depths = self._depths
        get = self._matches.get
        if min(labels, 63) in depths:
            match = get(host)
            if match is not None:
                return match
        dot = host.find(".")
        labels -= 1
        while dot != -1:
            if min(labels, 63) in depths:
                suffix = host[dot + 1:]
                match = get(suffix)
                if match is not None:
                    return self._undecided if suffix in self._risky else match
            dot = host.find(".", dot + 1)
            labels -= 1
        return None
