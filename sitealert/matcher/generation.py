"""Generation files: the list in the binary form the matcher's tables use in place.

A generation file (little-endian, every section 8-byte aligned) is

- a 128-byte header: magic ``SAREPLIC``, format version, kind (0 base, 1 overlay), the number of
  records, the number of entries of the list it stands for, the offset and size of each section,
  the label depths its domain targets have, the SPEC §4 checksum (32 raw bytes) of that list, and
  a CRC-32 of the header's first 124 bytes;
- the records, sorted by target (byte order, which is Python's str order for ASCII), each
  ``meta u32`` (combo index | RISKY | TOMBSTONE), ``first_listed_at u32`` (seconds since 1970,
  0 for unknown), ``length u16``, the target's bytes, zero-padded to a multiple of 8;
- the open-addressing slot array (a power of two, at least twice the records): each slot
  ``(hash >> 32) << 32 | (record offset / 8 + 1)``, 0 for empty, the hash FNV-1a over the
  target's bytes right to left finished by a 64-bit mixer (``hash_bytes``);
- the combos: a JSON list of ``[kind, [countries], [categories]]`` that the records' combo
  indexes name.

A base holds a whole list; an overlay holds the entries added or changed since its base and a
tombstone (TOMBSTONE flag) for each base entry removed, and carries the combos of both. Opening
reads the header and the combos only (``open_file``); the records and slots are used where they
lie, in a read-only shared memory map, so every process that opens a file shares one copy.
"""

import functools
import json
import mmap
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, BinaryIO

try:
    from . import _speedups
except ImportError:  # the pure-Python loops below write the same bytes, slowly
    _speedups = None  # type: ignore[assignment]
if os.environ.get("SITEALERT_PURE_PYTHON", "") not in ("", "0"):  # as sitealert.matcher.core does
    _speedups = None  # type: ignore[assignment]

MAGIC = b"SAREPLIC"
FORMAT_VERSION = 1
HEADER_SIZE = 128
BASE, OVERLAY = 0, 1
RISKY = 0x80000000
TOMBSTONE = 0x40000000
COMBO_MASK = 0x3FFFFFFF
MAX_TARGET_BYTES = 0xFFFF
_HEADER = struct.Struct("<8sIIQQQQQQQQQ32sII")
_RECORD_HEAD = struct.Struct("<IIH")
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = 0xFFFFFFFFFFFFFFFF
UNKNOWN_CHECKSUM = "sha256:" + "0" * 64  # an in-memory table's header: its checksum was not computed
# A combo as stored: (kind, countries, categories).
StoredCombo = tuple[str, tuple[str, ...], tuple[str, ...]]


class GenerationError(ValueError):
    """A generation file that cannot be what it claims to be (truncated, altered, foreign)."""


@dataclass(frozen=True)
class Header:
    kind: int
    count: int  # records in the file (an overlay's tombstones included)
    total: int  # entries of the list the file stands for
    records_size: int
    slots_offset: int
    capacity: int
    combos_offset: int
    combos_size: int
    depths: int
    checksum: str  # "sha256:<hex>"

    @property
    def size(self) -> int:
        return self.combos_offset + self.combos_size


def _mix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _MASK64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _MASK64
    return k ^ (k >> 33)


def hash_bytes(data: bytes) -> int:
    """The slot hash of a target's bytes (the same as _speedups.c's hash_bytes)."""
    h = _FNV_OFFSET
    for byte in reversed(data):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return _mix64(h ^ len(data))


def csv_parser() -> Callable[..., tuple[int, bytes, bytes, int, bytes, int]] | None:
    """The C parser of the feed's plain csv lines (sitealert.client.sync uses it), or None."""
    return _speedups.parse_csv if _speedups is not None else None


def record_size(length: int) -> int:
    return (_RECORD_HEAD.size + length + 7) & ~7


def capacity_for(count: int) -> int:
    capacity = 16
    while capacity < 2 * count:
        capacity <<= 1
    return capacity


def encode(targets: list[str], metas: list[int], firsts: list[int]) -> bytes:
    """The records of these (already sorted) targets."""
    if _speedups is not None:
        return _speedups.encode(targets, metas, firsts)
    if not len(targets) == len(metas) == len(firsts):
        raise ValueError("targets, metas and firsts differ in length")
    out = bytearray()
    for target, meta, first in zip(targets, metas, firsts, strict=True):
        if target.__class__ is not str or not target or not target.isascii() or len(target) > MAX_TARGET_BYTES:
            raise ValueError(f"target {target!r} is not a non-empty ASCII str")
        data = target.encode("ascii")
        out += _RECORD_HEAD.pack(meta, first, len(data)) + data
        out += bytes(-len(out) % 8)
    return bytes(out)


def iter_records(records: "bytes | memoryview | mmap.mmap") -> Iterator[tuple[str, int, int]]:
    """(target, meta, first_listed) of each record, in file order."""
    view = memoryview(records)
    offset, end = 0, len(view)
    while offset < end:
        if offset + _RECORD_HEAD.size > end:
            raise GenerationError("a record runs past the end of its generation file")
        meta, first, length = _RECORD_HEAD.unpack_from(view, offset)
        start = offset + _RECORD_HEAD.size
        if start + length > end:
            raise GenerationError("a record runs past the end of its generation file")
        yield bytes(view[start:start + length]).decode("ascii"), meta, first
        offset += record_size(length)


def slots(records: "bytes | memoryview | mmap.mmap", capacity: int, *,
          release: bool = False) -> tuple[bytes, int, int]:
    """(slot array, depths, count) over sorted records; ValueError if unsorted or duplicated.
    release: the records are a read-only shared file mapping whose pages may be unmapped once read
    (the page cache keeps them), which keeps a large file's records out of the resident set."""
    if _speedups is not None:
        return _speedups.slots(records, capacity, release)
    table = [0] * capacity
    mask = capacity - 1
    depths = count = 0
    previous = None
    view = memoryview(records)
    offset = 0
    for target, meta, _first in iter_records(view):
        data = target.encode("ascii")
        if previous is not None and previous >= data or count + 1 >= capacity:
            raise ValueError("the records are malformed, not sorted by target, or hold a duplicate")
        if ":" not in target and not meta & TOMBSTONE:
            depths |= 1 << min(target.count(".") + 1, 63)
        h = hash_bytes(data)
        i = h & mask
        while table[i]:
            i = (i + 1) & mask
        table[i] = ((h >> 32) << 32) | (offset // 8 + 1)
        previous = data
        offset += record_size(len(data))
        count += 1
    return struct.pack(f"<{capacity}Q", *table), depths, count


def _pack_header(kind: int, count: int, total: int, records_size: int, capacity: int, combos_size: int,
                 depths: int, checksum: str) -> bytes:
    slots_offset = HEADER_SIZE + records_size
    combos_offset = slots_offset + 8 * capacity
    digest = bytes.fromhex(checksum.removeprefix("sha256:"))
    head = _HEADER.pack(MAGIC, FORMAT_VERSION, kind, count, total, HEADER_SIZE, records_size, slots_offset,
                        capacity, combos_offset, combos_size, depths, digest, 0, 0)
    return head[:124] + struct.pack("<I", zlib.crc32(head[:124]))


def _combos_bytes(combos: Sequence[StoredCombo]) -> bytes:
    data = json.dumps([[kind, list(countries), list(categories)] for kind, countries, categories in combos],
                      separators=(",", ":")).encode("utf-8")
    return data + b" " * (-len(data) % 8)


def build(records: bytes, combos: Sequence[StoredCombo], checksum: str, *, kind: int = BASE,
          total: int | None = None) -> bytes:
    """A whole generation file in memory, from its records (sorted)."""
    capacity = capacity_for(len(records) // 16 + 1)
    slot_bytes, depths, count = slots(records, capacity)
    while capacity < 2 * count:  # records shorter than 16 bytes on average: cannot happen, but be exact
        capacity = capacity_for(count)
        slot_bytes, depths, count = slots(records, capacity)
    combo_bytes = _combos_bytes(combos)
    header = _pack_header(kind, count, count if total is None else total, len(records), capacity,
                          len(combo_bytes), depths, checksum)
    return b"".join((header, records, slot_bytes, combo_bytes))


class Writer:
    """Streams records into a new generation file: ``add`` them in target order, then ``finish``.

    The records go to disk as they come; ``finish`` maps them back read-only to build the slot
    array (8 bytes × a power of two ≥ 2 × count, the only large allocation), then writes the
    combos and the header. The caller fsyncs and renames.
    """

    def __init__(self, file: BinaryIO, *, kind: int = BASE) -> None:
        self._file = file
        self._kind = kind
        self._size = 0
        self._count_hint = 0
        file.seek(0)
        file.write(bytes(HEADER_SIZE))

    def add(self, records: bytes) -> None:
        self._file.write(records)
        self._size += len(records)

    def add_entries(self, targets: list[str], metas: list[int], firsts: list[int]) -> None:
        self.add(encode(targets, metas, firsts))
        self._count_hint += len(targets)

    def finish(self, combos: Sequence[StoredCombo], checksum: str, *, total: int | None = None,
               count_hint: int | None = None) -> Header:
        """Write the slots, combos and header; return the header. ValueError if the records are
        not sorted or hold a duplicate."""
        f = self._file
        f.flush()
        hint = count_hint if count_hint is not None else self._count_hint
        capacity = capacity_for(hint or self._size // 16)
        slot_bytes, depths, count = bytes(8 * capacity), 0, 0
        if self._size:
            with mmap.mmap(f.fileno(), HEADER_SIZE + self._size, access=mmap.ACCESS_READ) as mapped:
                slot_bytes, depths, count = self._slots(mapped, capacity)
                if capacity < 2 * count:  # the hint was short: once more at the right size
                    capacity = capacity_for(count)
                    slot_bytes, depths, count = self._slots(mapped, capacity)
        f.seek(HEADER_SIZE + self._size)
        f.write(slot_bytes)
        del slot_bytes
        combo_bytes = _combos_bytes(combos)
        f.write(combo_bytes)
        header_bytes = _pack_header(self._kind, count, count if total is None else total, self._size, capacity,
                                    len(combo_bytes), depths, checksum)
        f.seek(0)
        f.write(header_bytes)
        f.flush()
        return parse_header(header_bytes)

    def _slots(self, mapped: mmap.mmap, capacity: int) -> tuple[bytes, int, int]:
        with memoryview(mapped) as view, view[HEADER_SIZE:HEADER_SIZE + self._size] as records:
            return slots(records, capacity, release=True)


def parse_header(data: "bytes | memoryview | mmap.mmap") -> Header:
    if len(data) < HEADER_SIZE:
        raise GenerationError("shorter than a generation header")
    (magic, version, kind, count, total, records_offset, records_size, slots_offset, capacity, combos_offset,
     combos_size, depths, digest, _reserved, crc) = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise GenerationError("not a SiteAlert generation file")
    if zlib.crc32(bytes(data[:124])) != crc:
        raise GenerationError("its header does not match its CRC")
    if version != FORMAT_VERSION:
        raise GenerationError(f"generation format {version}; this client reads format {FORMAT_VERSION}")
    if kind not in (BASE, OVERLAY) or records_offset != HEADER_SIZE or records_size % 8 \
            or slots_offset != HEADER_SIZE + records_size or capacity < 2 or capacity & (capacity - 1) \
            or capacity <= count or combos_offset != slots_offset + 8 * capacity:
        raise GenerationError("its sections are inconsistent")
    return Header(kind, count, total, records_size, slots_offset, capacity, combos_offset, combos_size, depths,
                  "sha256:" + digest.hex())


def _parse_combos(data: bytes) -> list[StoredCombo]:
    try:
        raw = json.loads(data)
    except ValueError:
        raise GenerationError("its combos are not JSON") from None
    combos: list[StoredCombo] = []
    if not isinstance(raw, list):
        raise GenerationError("its combos are not a list")
    for item in raw:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and all(isinstance(part, list) and all(isinstance(v, str) for v in part) for part in item[1:])):
            raise GenerationError("a combo is malformed")
        combos.append((item[0], tuple(item[1]), tuple(item[2])))
    return combos


@dataclass
class Generation:
    """An open generation file: its header, combos, and the mapped bytes a Table uses in place."""

    header: Header
    combos: list[StoredCombo]
    data: "mmap.mmap | bytes"

    @property
    def records(self) -> memoryview:
        return memoryview(self.data)[HEADER_SIZE:HEADER_SIZE + self.header.records_size]

    def close(self) -> None:
        if isinstance(self.data, mmap.mmap):
            try:
                self.data.close()
            except BufferError:  # a Table still uses it: the map goes when the last user does
                pass


def from_bytes(data: "bytes | mmap.mmap") -> Generation:
    """Check the header and the section sizes (not the records) and read the combos."""
    header = parse_header(data)
    if len(data) != header.size:
        raise GenerationError(f"it holds {len(data)} bytes where its header says {header.size}")
    combos = _parse_combos(bytes(data[header.combos_offset:header.size]))
    return Generation(header, combos, data)


def open_file(path: "str | os.PathLike[str]") -> Generation:
    """Map a generation file read-only and shared (constant time: the records are not read)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < HEADER_SIZE:
            raise GenerationError(f"it holds {size} bytes, less than a header")
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return from_bytes(mapped)
    except GenerationError:
        mapped.close()
        raise


def merged(base: Iterable[tuple[str, int, int]], overlay: Iterable[tuple[str, int, int]], *,
           keep_tombstones: bool = False) -> Iterator[tuple[str, int, int]]:
    """Records of base ⊕ overlay in target order (pure Python): the overlay wins, its tombstones
    drop (or stay, keep_tombstones: two overlays merged into one)."""
    sentinel = ("\x7f" * 2, 0, 0)
    b_iter, o_iter = iter(base), iter(overlay)
    b = next(b_iter, None)
    o = next(o_iter, None)
    while b is not None or o is not None:
        bt = b if b is not None else sentinel
        ot = o if o is not None else sentinel
        if o is None or (b is not None and bt[0] < ot[0]):
            yield bt
            b = next(b_iter, None)
            continue
        if b is not None and bt[0] == ot[0]:
            b = next(b_iter, None)
        if keep_tombstones or not ot[1] & TOMBSTONE:
            yield ot
        o = next(o_iter, None)


def feed_chunks(records: Iterable[tuple[str, int, int]], callback: Callable[[bytes], Any], as_records: bool,
                chunk: int) -> int:
    """Pure-Python twin of _speedups.Table.feed over merged records."""
    count = 0
    parts: list[bytes] = []
    size = 0
    for target, meta, first in records:
        if as_records:
            piece = encode([target], [meta], [first])
        else:
            piece = target.encode("ascii") + b"\n"
        parts.append(piece)
        size += len(piece)
        count += 1
        if size >= chunk:
            callback(b"".join(parts))
            parts, size = [], 0
    if parts:
        callback(b"".join(parts))
    return count


_FIRST_LISTED = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9])Z")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@functools.lru_cache(maxsize=4096)
def _day_seconds(day: str) -> int:
    try:
        return (date.fromisoformat(day).toordinal() - _EPOCH_ORDINAL) * 86400
    except ValueError:
        return -1


def first_seconds(text: str | None) -> int:
    """'YYYY-MM-DDTHH:MM:SSZ' (the feed's first_listed_at) as seconds since 1970; 0 for None or
    for text of any other shape (stored as unknown)."""
    found = _FIRST_LISTED.fullmatch(text) if text else None
    if found is None:
        return 0
    day = _day_seconds(found[1])
    if day < 0:
        return 0
    value = day + int(found[2]) * 3600 + int(found[3]) * 60 + int(found[4])
    return value if 0 < value <= 0xFFFFFFFF else 0


def first_text(seconds: int) -> str | None:
    """The inverse of first_seconds."""
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
