"""Matcher: which listed target covers an item, at memory speed, with the server's answers."""

import enum
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, NamedTuple, TypeAlias, cast

from sitealert.hosts import InvalidTarget, covering_targets, item_candidates, normalize_target

from . import _pure, generation
from .suffix_rules import rule_parents

try:
    from . import _speedups
except ImportError:  # no compiler when the package was installed: the pure table answers the same
    _speedups = None  # type: ignore[assignment]

# SITEALERT_PURE_PYTHON=1 forces the pure-Python table (to compare, or to rule the accelerator out).
ACCELERATED = _speedups is not None and os.environ.get("SITEALERT_PURE_PYTHON", "") in ("", "0")


def _resolve(accelerated: bool | None) -> bool:
    if accelerated is None:
        accelerated = ACCELERATED
    if accelerated and _speedups is None:
        raise RuntimeError("sitealert.matcher._speedups is not built; reinstall with a C compiler")
    return accelerated


class Match(NamedTuple):
    """The listed target that covers an item, with the countries that list it and the categories."""

    target: str
    countries: tuple[str, ...]
    categories: tuple[str, ...]


class _Undecided(enum.Enum):
    """The tables' answer for an item only the full normalizer can decide: a one-member enum, so
    that a type checker narrows ``result is UNDECIDED`` as it does ``result is None``."""

    UNDECIDED = "undecided"

    def __repr__(self) -> str:
        return "<undecided>"


UNDECIDED: Final = _Undecided.UNDECIDED
_Table: TypeAlias = "_pure.Table[Match, _Undecided] | _speedups.Table[Match, _Undecided]"
# A target's entry: a canonical string, a (target, countries, categories) tuple or a feed mapping.
Entry: TypeAlias = str | tuple[str, Iterable[str] | None, Iterable[str] | None] | Mapping[str, Any]


def _entry_fields(entry: Entry) -> tuple[str, Iterable[str], Iterable[str]]:
    if isinstance(entry, str):
        return entry, (), ()
    if isinstance(entry, Mapping):
        return entry["target"], entry.get("countries") or (), entry.get("categories") or ()
    target, countries, categories = entry
    return target, countries or (), categories or ()


class Matcher:
    """Canonical targets with their countries and categories, and the SPEC §2 matching rules.

    A domain target covers itself and every subdomain; ``video.example.com`` does not cover
    ``example.com``; an app target covers only itself. ``check`` accepts whatever the server's
    ``/api/v1/lookup`` accepts (raw URLs, hosts in any case or script, app ids, store URLs), goes
    through the same normalizer, and answers the *most specific* listed target that covers the
    item, or ``None`` (also for input the normalizer refuses).

    ``entries``: canonical target strings, ``(target, countries, categories)`` tuples, or feed
    entry mappings. Targets must be canonical (as in the feed); pass ``validate=True`` to check
    them with the normalizer. A target given twice keeps the union of its countries and categories.
    """

    def __init__(self, entries: Iterable[Entry] = (), *, accelerated: bool | None = None,
                 validate: bool = False) -> None:
        if accelerated is None:
            accelerated = ACCELERATED
        if not isinstance(entries, (list, tuple)):
            entries = list(entries)
        # target -> (countries, categories), or None for a bare target string
        merged: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None]
        if not validate and all(entry.__class__ is str for entry in entries):
            merged, entries = dict.fromkeys(cast("list[str]", entries)), ()
        else:
            merged = {}
        for entry in entries:
            if type(entry) is str and not validate:
                merged.setdefault(entry, None)
                continue
            target, countries, categories = _entry_fields(entry)
            if validate:
                canonical = normalize_target(target)
                if canonical != target:
                    raise ValueError(f"{target!r} is not a canonical target (did you mean {canonical!r}?)")
            previous = merged.get(target)
            if previous is None:
                merged[target] = (tuple(countries), tuple(categories))
            else:
                merged[target] = (previous[0] + tuple(countries), previous[1] + tuple(categories))
        combos: list[_pure.Combo] = [((), ())]
        combo_index: dict[_pure.Combo, int] = {((), ()): 0}
        targets = list(merged)
        combo_ids = []
        for value in merged.values():
            if value is None or value == ((), ()):
                combo_ids.append(0)
                continue
            combo = (tuple(sorted(set(value[0]))), tuple(sorted(set(value[1]))))
            index = combo_index.get(combo)
            if index is None:
                index = combo_index[combo] = len(combos)
                combos.append(combo)
            combo_ids.append(index)
        self._build(targets, combo_ids, combos, accelerated)

    @classmethod
    def from_columns(cls, targets: list[str], combo_ids: list[int], combos: list[_pure.Combo], *,
                     accelerated: bool | None = None) -> "Matcher":
        """Build from distinct canonical targets, each with an index into combos, a list of
        (countries, categories) tuple pairs."""
        matcher = cls.__new__(cls)
        matcher._build(list(targets), list(combo_ids), list(combos),
                       ACCELERATED if accelerated is None else accelerated)
        return matcher

    @classmethod
    def over(cls, base: generation.Generation, overlay: generation.Generation | None = None, *,
             accelerated: bool | None = None) -> "Matcher":
        """The matcher of generation files used in place (a replica's base and overlay): nothing
        is read or copied, whatever the list's size."""
        accelerated = _resolve(accelerated)
        combos = (overlay or base).combos
        matcher = cls.__new__(cls)
        table_type = _speedups.Table if accelerated else _pure.Table
        matcher._table = table_type(base.data, overlay.data if overlay is not None else None,
                                    [(countries, categories) for _kind, countries, categories in combos],
                                    Match, UNDECIDED)
        matcher.accelerated = accelerated
        return matcher

    def _build(self, targets: list[str], combo_ids: list[int], combos: list[_pure.Combo],
               accelerated: bool) -> None:
        accelerated = _resolve(accelerated)
        for target in targets:
            if target.__class__ is not str or not target or not target.isascii():
                raise ValueError(f"target {target!r} is not an ASCII str")
        order = sorted(range(len(targets)), key=targets.__getitem__)
        ordered = [targets[k] for k in order]
        for previous, target in zip(ordered, ordered[1:]):
            if previous == target:
                raise ValueError(f"duplicate target {target!r}")
        parents = rule_parents()
        metas = [combo_ids[k] for k in order]
        if not parents.isdisjoint(targets):
            metas = [index | _pure.RISKY if target in parents and ":" not in target else index
                     for target, index in zip(ordered, metas)]
        records = generation.encode(ordered, metas, [0] * len(ordered))
        stored = [("", countries, categories) for countries, categories in combos]
        data = generation.build(records, stored, generation.UNKNOWN_CHECKSUM)
        table_type = _speedups.Table if accelerated else _pure.Table
        self._table: _Table = table_type(data, None, list(combos), Match, UNDECIDED)
        self.accelerated = accelerated

    @classmethod
    def from_targets(cls, targets: Iterable[Entry], **options: Any) -> "Matcher":
        return cls(targets, **options)

    def __len__(self) -> int:
        return len(self._table)

    def __contains__(self, target: str) -> bool:
        """Whether exactly this canonical target is listed (no normalization, no subdomain walk)."""
        return self._table.get(target) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.targets())

    def targets_set(self) -> set[str]:
        return set(self._table.targets())

    def get(self, target: str) -> Match | None:
        """The entry of exactly this canonical target, or None."""
        return self._table.get(target)

    def check(self, item: str) -> Match | None:
        """The most specific listed target covering item (any raw URL, host or app id), or None."""
        result = self._table.check(item)
        if result is UNDECIDED:
            return self._check_slowly(item)
        return result

    def check_many(self, items: Iterable[str]) -> list[Match | None]:
        """check() for each item, in order."""
        if not isinstance(items, (list, tuple)):
            items = list(items)
        results, undecided = self._table.check_many(items)
        if undecided:
            check_slowly = self._check_slowly
            for position, result in enumerate(results):
                if result is UNDECIDED:
                    results[position] = check_slowly(items[position])
        return cast("list[Match | None]", results)  # no UNDECIDED is left

    def lookup_canonical(self, target: str) -> Match | None:
        """The most specific listed target covering an already canonical target."""
        return self._first_listed(covering_targets(target))

    def _first_listed(self, candidates: list[str]) -> Match | None:
        get = self._table.get
        for candidate in candidates:
            match = get(candidate)
            if match is not None:
                return match
        return None

    def _check_slowly(self, item: str) -> Match | None:
        if item is not None and not isinstance(item, str):
            raise TypeError(f"check() takes a str, not {type(item).__name__}")
        try:
            _target, candidates = item_candidates(item)
        except InvalidTarget:
            return None
        return self._first_listed(candidates)

    def record(self, target: str) -> tuple[int, int] | None:
        """(meta, first listed, seconds since 1970 or 0) of exactly this canonical target, or None."""
        return self._table.record(target)

    def feed(self, callback: Callable[[bytes], object], *, records: bool = False, chunk: int = 1 << 20,
             keep_tombstones: bool = False) -> int:
        """Call callback with the list, sorted, about `chunk` bytes at a time: "target\\n" lines
        (what the SPEC §4 checksum hashes), or generation records (keep_tombstones: with the
        overlay's tombstones, to merge two overlays into one); return how many entries."""
        return self._table.feed(callback, records, chunk, keep_tombstones)

    def nbytes(self) -> int:
        """Bytes of the accelerated table's arrays (0 for the pure table, which uses Python objects)."""
        return self._table.nbytes()


def diff(old: Matcher, new: Matcher, combo_map: list[int]) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, updated) targets from old to new, sorted; combo_map[i] is new's combo index
    equal to old's combo i (-1: none), so that an entry is updated when its combo or first-listed
    time differs."""
    if old.accelerated and new.accelerated:
        return _speedups.diff(old._table, new._table, combo_map)  # type: ignore[arg-type]
    old_targets, new_targets = old.targets_set(), new.targets_set()
    updated = []
    for target in sorted(old_targets & new_targets):
        before, after = old.record(target), new.record(target)
        assert before is not None and after is not None
        index = before[0] & generation.COMBO_MASK
        if (combo_map[index] if index < len(combo_map) else -1) != after[0] & generation.COMBO_MASK \
                or before[1] != after[1]:
            updated.append(target)
    return sorted(new_targets - old_targets), sorted(old_targets - new_targets), updated
