"""The private lookup (k-anonymity): hash prefixes answered with the full hashes of listed targets.

A client that must not reveal what it checks hashes each candidate target of an item (the item's
canonical target and its parents, `sitealert.hosts.item_candidates`) with SHA-256 over the
target's UTF-8 bytes (`sitealert.hosts.target_digest`), and asks only for the first PREFIX_HEX
hex digits of each hash; the answer is every listed target's full hash under that prefix, and
the client compares locally. No target travels in clear either way.

PREFIX_HEX is 4 (16 bits, 65,536 prefixes): at 10,000,000 listed targets a prefix holds about
150 hashes (a 10 KB answer), at 1,000,000 about 15, and at the 10,000 of today's largest lists a
prefix is mostly empty. A prefix tells the server 16 bits of the hash of what the client asked
about, shared by 1 in 65,536 of all possible names.

Serving a prefix reads no table: the list's hashes at one version (the base) are a file,
FEED_CACHE_DIR/<epoch>/hashes-<version>.sha256, written once for the machine from one sorted scan
(`cache.mapped_base`, as the lookup's generation file) and mapped read-only by every process:

    "SAHASH1\\n" | count (uint64 LE) | 65,537 offsets (uint32 LE, one per prefix and the end)
    | count digests of 32 bytes, sorted

A later version is the base plus the targets changed since (read from the change log), until
more than OVERLAY_MAX_CHANGES have changed or the history the base needs is pruned.

The static mirror carries the same hashes as shards (`static_shards`), coarser so that a
version's shards stay a few thousand files at most: the fewest hex digits (1 to SHARD_PREFIX_HEX = 3)
that keep a shard near SHARD_HASHES hashes (16 shards for a list of a few thousand, 4,096 from
about a million; about 2,400 hashes each at 10M), every shard written, even an empty one, so that
a missing file is an error and never an "unlisted". A shard's body is the endpoint's document for
its (shorter) prefix; `hashes/current.json` says how many digits the shards' names have.
"""

import hashlib
import json
import mmap
import struct
from bisect import bisect_left, bisect_right

from sitealert.core import ratelimit
from sitealert.core.conf import setting
from sitealert.feed import cache, lookup
from sitealert.feed.builder import sorted_targets
from sitealert.feed.lookup import CurrentList, Overlaid
from sitealert.hosts import target_digest

PREFIX_HEX = 4
SHARD_PREFIX_HEX = 3
SHARD_HASHES = 256
DIGEST_BYTES = 32
PREFIXES = 16 ** PREFIX_HEX
MAGIC = b"SAHASH1\n"
_HEADER = struct.Struct("<8sQ")
_OFFSETS = struct.Struct(f"<{PREFIXES + 1}I")
_OFFSET = struct.Struct("<I")
_DATA_START = _HEADER.size + _OFFSETS.size
_HEX = frozenset("0123456789abcdef")


class DamagedBase(ValueError):
    """A hashes base whose header or size does not add up (written again by the caller)."""


def parse_prefix(text, length=PREFIX_HEX):
    """The prefix as lower-case hex, or ValueError saying what is wrong with it."""
    if not isinstance(text, str) or len(text) != length or not set(text.lower()) <= _HEX:
        raise ValueError(f"a prefix is exactly {length} hexadecimal digits (0-9, a-f)")
    return text.lower()


class Base:
    """The sorted digests of the list at one version, mapped read-only from a hashes base."""

    def __init__(self, path):
        with open(path, "rb") as f:
            try:
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file cannot be mapped
                raise DamagedBase(f"{path} is empty") from None
        if len(self._map) < _DATA_START:
            raise DamagedBase(f"{path} is shorter than its header")
        magic, count = _HEADER.unpack_from(self._map)
        if magic != MAGIC or len(self._map) != _DATA_START + DIGEST_BYTES * count or self._offset(PREFIXES) != count:
            raise DamagedBase(f"{path} is not a whole hashes base")
        self.count = count

    def _offset(self, bucket):
        """Where the digests of a prefix start (read from the map: no per-process copy of the index)."""
        return _OFFSET.unpack_from(self._map, _HEADER.size + _OFFSET.size * bucket)[0]

    def digests(self, first, last):
        """The digests of prefixes first..last (bucket numbers, inclusive), sorted."""
        start, end = self._offset(first), self._offset(last + 1)
        data = self._map[_DATA_START + DIGEST_BYTES * start:_DATA_START + DIGEST_BYTES * end]
        return [data[i:i + DIGEST_BYTES] for i in range(0, len(data), DIGEST_BYTES)]


def _write_base(file):
    """The list at the enclosing consistent_read's version as a hashes base, from one sorted scan,
    grouped by the digests' first byte while hashing (at 10M: 320 MB of bytearrays, 40,000
    digests sorted as objects at a time)."""
    groups = [bytearray() for _ in range(256)]
    sha256 = hashlib.sha256
    for targets in sorted_targets():
        for digest in [sha256(target.encode("utf-8")).digest() for target in targets]:
            groups[digest[0]] += digest
    offsets = [0]
    file.write(b"\0" * _DATA_START)
    for first, group in enumerate(groups):
        packed = bytes(group)  # bytes slices sort faster than bytearray ones
        groups[first] = bytearray()
        digests = sorted(packed[i:i + DIGEST_BYTES] for i in range(0, len(packed), DIGEST_BYTES))
        start = offsets[-1]
        for second in range(1, 256):  # where each prefix of this first byte ends
            offsets.append(start + bisect_left(digests, bytes((first, second))))
        offsets.append(start + len(digests))
        file.write(b"".join(digests))
    file.seek(0)
    file.write(_HEADER.pack(MAGIC, offsets[-1]) + _OFFSETS.pack(*offsets))


class Hashes(Overlaid):
    """The list's hashes at one version: a mapped base plus the targets listed (`added`) and no
    longer listed (`removed`) since its version."""

    def __init__(self, epoch, base_version, base, version=None, added=frozenset(), removed=frozenset()):
        super().__init__(epoch, base_version, base, version, added, removed)
        self._added = sorted(target_digest(target) for target in added)
        self._removed = sorted(target_digest(target) for target in removed)

    @property
    def count(self):
        """About how many targets are listed (the base's count and the changes since: a target
        listed again after a change counts twice), for choosing the shards' size."""
        return (self.base.count if self.base is not None else 0) + len(self._added) - len(self._removed)

    def digests(self, prefix):
        """The sorted digests of the listed targets whose hex form starts with `prefix` (hex, at
        most PREFIX_HEX digits)."""
        low = int(prefix.ljust(PREFIX_HEX, "0"), 16)
        high = int(prefix.ljust(PREFIX_HEX, "f"), 16)
        found = self.base.digests(low, high) if self.base is not None else []
        first = low.to_bytes(PREFIX_HEX // 2, "big")
        last = high.to_bytes(PREFIX_HEX // 2, "big") + b"\xff" * DIGEST_BYTES
        # The changes under this prefix, a few among the base's hundreds: each found by bisection.
        for digest in self._removed[bisect_left(self._removed, first):bisect_right(self._removed, last)]:
            at = bisect_left(found, digest)
            if at < len(found) and found[at] == digest:
                del found[at]
        for digest in self._added[bisect_left(self._added, first):bisect_right(self._added, last)]:
            at = bisect_left(found, digest)
            if at == len(found) or found[at] != digest:
                found.insert(at, digest)
        return found

    def document(self, prefix):
        """The JSON answer for a prefix: {"epoch", "version", "prefix", "hashes"} (compact, UTF-8)."""
        hashes = ",".join(f'"{digest.hex()}"' for digest in self.digests(prefix))
        return (f'{{"epoch":{json.dumps(self.epoch)},"version":{self.version},"prefix":"{prefix}",'
                f'"hashes":[{hashes}]}}').encode()


class CurrentHashes(CurrentList):
    """This process's Hashes of the current version, brought up to date at each request."""

    def __init__(self):
        super().__init__(Hashes(None, 0, None))

    def _base(self, epoch, version, pruned_through):
        base_version, base = cache.mapped_base(cache.epoch_directory(epoch), "hashes", version, pruned_through,
                                               lookup.OVERLAY_MAX_CHANGES, _write_base, Base, DamagedBase)
        return Hashes(epoch, base_version, base)


current_hashes = CurrentHashes()


def prefix_document(prefix):
    """(the answer for a valid PREFIX_HEX prefix as JSON bytes, the Hashes it comes from)."""
    hashes = current_hashes.get()
    return hashes.document(prefix), hashes


def private_lookup_wait(ip):
    """Count one prefix asked by this client; seconds to wait when over the limit, else 0."""
    return ratelimit.tally("private-lookup", ratelimit.client_key(ip), setting("PRIVATE_LOOKUP_RATE"),
                           setting("PRIVATE_LOOKUP_WINDOW"))


def etag(state):
    """The entity tag of every prefix's answer at one (epoch, version)."""
    return f'"{state.epoch[:12]}-{state.version}-hashes"'


def shard_prefix_hex(count):
    """The hex digits of the static shards' names for a list of `count` targets: the fewest (at
    least 1, at most SHARD_PREFIX_HEX) that keep a shard near SHARD_HASHES hashes. Fewer digits
    also tell a mirror less about what a client asks."""
    digits = 1
    while digits < SHARD_PREFIX_HEX and count > SHARD_HASHES * 16 ** digits:
        digits += 1
    return digits


def shards_location(epoch, version, prefix_hex):
    """What a static tree's state.json says of the shards: {"prefix_hex", "shards"}."""
    return {"prefix_hex": prefix_hex, "shards": f"hashes/{epoch}/{version}/"}


def static_shards():
    """(TUF target path, bytes) of every shard of the current version: hashes/<epoch>/<version>/<prefix>
    for each prefix of shard_prefix_hex(the list's size) digits, empty ones included, then
    hashes/current.json ({"epoch", "version", "prefix_hex", "shards"}), which a client of a mirror
    without a feed token reads to find the current shards (role "hashes" in the static tree). The
    version is the one current when the generator starts (the last item names it: a publisher
    compares it with the version its state.json describes)."""
    hashes = current_hashes.get()
    digits = shard_prefix_hex(hashes.count)
    location = shards_location(hashes.epoch, hashes.version, digits)
    for number in range(16 ** digits):
        prefix = f"{number:0{digits}x}"
        yield location["shards"] + prefix, hashes.document(prefix)
    yield "hashes/current.json", json.dumps({"epoch": hashes.epoch, "version": hashes.version, **location},
                                            separators=(",", ":")).encode()
