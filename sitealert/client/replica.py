"""Replica: a verified local copy of the aggregated list, and the matcher over it."""

import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sitealert.matcher import Match, Matcher, generation
from sitealert.matcher.core import Entry

from . import store
from .errors import ReplicaDamaged

if TYPE_CHECKING:
    from .sync import SyncResult

class Replica:
    """A local replica of a SiteAlert server's aggregated list, in a directory.

    ``Replica(path)`` opens the directory (an empty replica at version 0 if it does not exist yet);
    ``sync(url, token)`` brings it current; ``check(item)`` / ``check_many(items)`` answer from
    memory. Opening maps the replica's files read-only and checks their headers, in constant time
    whatever the list's size, and every process that opens the directory shares one copy in
    memory; ``verify()`` reads every byte. Opening never raises for a damaged directory:
    ``damaged`` then says why, ``check`` raises ``ReplicaDamaged``, and the next ``sync`` repairs
    it with a full download.

    Several processes may open the same directory while one syncs it; ``refresh()`` picks up a
    version another process wrote, as cheaply as opening. ``preload=True`` (or ``preload()``)
    maps every page of the files before the first check, for a server that opens, warms up,
    then serves.
    """

    def __init__(self, path: str | os.PathLike[str], *, accelerated: bool | None = None,
                 preload: bool = False) -> None:
        self.path: Path | None = Path(path)
        self._accelerated = accelerated
        self._load()
        if preload:
            self.preload()

    @classmethod
    def from_targets(cls, targets: Iterable[Entry], *, accelerated: bool | None = None,
                     validate: bool = False) -> "Replica":
        """An in-memory replica (tests, benchmarks): canonical target strings, (target, countries,
        categories) tuples or feed entry mappings. It cannot sync."""
        replica = cls.__new__(cls)
        replica.path = None
        replica._accelerated = accelerated
        replica._set_state(None, Matcher(targets, accelerated=accelerated, validate=validate))
        replica._stamp = None
        return replica

    # -- state -------------------------------------------------------------------------------

    def _set_state(self, manifest: dict[str, Any] | None, matcher: Matcher, damaged: str | None = None,
                   snapshot: store.Snapshot | None = None) -> None:
        self._manifest = manifest or {}
        self._matcher = matcher
        self._snapshot = snapshot
        self.damaged = damaged
        self._checksum: str | None = self._manifest.get("checksum")

    def _open(self) -> None:
        assert self.path is not None, "an in-memory replica has nothing to load"
        try:
            snapshot = store.open_snapshot(self.path)
        except ReplicaDamaged as exc:
            self._set_state(None, Matcher((), accelerated=self._accelerated), damaged=str(exc))
            return
        if snapshot is None:
            self._set_state(None, Matcher((), accelerated=self._accelerated))
            return
        try:
            matcher = Matcher.over(snapshot.base, snapshot.overlay, accelerated=self._accelerated)
        except ValueError as exc:
            self._set_state(None, Matcher((), accelerated=self._accelerated), damaged=str(exc))
            return
        self._set_state(snapshot.manifest, matcher, snapshot=snapshot)

    def _load(self) -> None:
        assert self.path is not None, "an in-memory replica has nothing to load"
        self._stamp = store.manifest_stamp(self.path)
        self._open()

    def refresh(self) -> bool:
        """Reload if another process synced this directory since; True if the list changed.
        Costs what opening costs (the new files are mapped, not read).

        A damaged directory leaves the list in memory as it was and raises ReplicaDamaged.
        """
        if self.path is None or store.manifest_stamp(self.path) == self._stamp:
            return False
        stamp = store.manifest_stamp(self.path)
        snapshot = store.open_snapshot(self.path)
        if snapshot is not None and not self.damaged and snapshot.manifest.get("checksum") == self._checksum \
                and snapshot.manifest.get("version") == self.version:
            if self._snapshot is not None and (snapshot.manifest.get("data"), snapshot.manifest.get("overlay")) \
                    != (self._manifest.get("data"), self._manifest.get("overlay")):
                # Compacted: the same list in new files; map them, so that the old ones can go.
                matcher = Matcher.over(snapshot.base, snapshot.overlay, accelerated=self._accelerated)
                self._set_state(snapshot.manifest, matcher, snapshot=snapshot)
            else:
                snapshot.close()
                self._manifest = snapshot.manifest  # only sync times or the ETag changed
            self._stamp = stamp
            return False
        if snapshot is None:
            self._set_state(None, Matcher((), accelerated=self._accelerated))
        else:
            matcher = Matcher.over(snapshot.base, snapshot.overlay, accelerated=self._accelerated)
            self._set_state(snapshot.manifest, matcher, snapshot=snapshot)
        self._stamp = stamp
        return True

    def verify(self) -> None:
        """Read every byte: the files against their SHA-256 and the list against its SPEC §4
        checksum. Raises ReplicaDamaged (and marks the replica damaged) if anything differs.
        Opening checks only the files' headers and sizes, so that it takes constant time."""
        self._usable()
        if self.path is None or not self._manifest:
            return
        try:
            store.verify_files(self.path, self._manifest)
            if store.list_checksum(self._matcher) != self._manifest["checksum"]:
                raise ReplicaDamaged("the entries do not match the list checksum")
        except ValueError as exc:  # a record running past its file (ReplicaDamaged is not a ValueError)
            self.damaged = str(exc)
            raise ReplicaDamaged(f"the replica at {self.path} is damaged ({exc})") from None
        except ReplicaDamaged as exc:
            self.damaged = str(exc)
            raise

    def preload(self) -> None:
        """Map every page of the replica's files into this process now (from the page cache, or
        read from disk), so that the first checks do not pay for page faults: for a long-running
        server that opens, preloads, then serves. Costs a pass over the files (10M entries: about
        half a gigabyte); the pages stay shared with every other process. No-op for an in-memory
        or pure-Python replica, which already holds everything in memory."""
        snapshot = self._snapshot
        if snapshot is None or not self._matcher.accelerated:
            return
        for part in (snapshot.base, snapshot.overlay):
            if part is None or not isinstance(part.data, mmap.mmap):
                continue
            if hasattr(mmap, "MADV_WILLNEED"):
                part.data.madvise(mmap.MADV_WILLNEED)  # read ahead from disk, asynchronously
            with memoryview(part.data) as view:
                view[::mmap.PAGESIZE].tobytes()  # one byte a page: fault each page in, in C

    @property
    def compaction_due(self) -> bool:
        """Whether the overlay has grown enough that ``compact()`` should merge it into a new base."""
        return self._snapshot is not None and store.compaction_due(self._snapshot)

    def compact(self) -> bool:
        """Merge the overlay into a new base (same version, same list: later syncs write small
        overlays again), verified against the list's checksum, crash-safe like a sync; False if
        there was no overlay. Takes the sync lock (SyncInProgress while another process syncs).
        Readers keep working throughout and pick up the new files with ``refresh()``. Costs a
        base's write (see docs/client.md), which is why a sync never does it itself."""
        if self.path is None:
            raise TypeError("an in-memory replica (Replica.from_targets) cannot compact")
        done = store.compact(self.path)
        if done:
            self._load()
        return done

    @property
    def version(self) -> int:
        """Version of the list held (0 for a replica never synced, or damaged)."""
        version: int = self._manifest.get("version", 0)
        return version

    @property
    def checksum(self) -> str:
        """SPEC §4 checksum of the list held, verified when it was written (verify() checks it again)."""
        if self._checksum is None:
            self._checksum = store.list_checksum(self._matcher)
        return self._checksum

    @property
    def server(self) -> str | None:
        """Base URL of the server this replica was last synced from."""
        return self._manifest.get("server")

    @property
    def synced_at(self) -> str | None:
        """When the list last changed (ISO 8601, UTC)."""
        return self._manifest.get("synced_at")

    @property
    def checked_at(self) -> str | None:
        """When a sync last confirmed the list current (ISO 8601, UTC)."""
        return self._manifest.get("checked_at")

    @property
    def accelerated(self) -> bool:
        return self._matcher.accelerated

    def __len__(self) -> int:
        return len(self._matcher)

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "in memory"
        state = f"damaged: {self.damaged}" if self.damaged else f"version {self.version}, {len(self)} targets"
        return f"<Replica {where} ({state})>"

    # -- matching ----------------------------------------------------------------------------

    def _usable(self) -> None:
        if self.damaged:
            raise ReplicaDamaged(f"the replica at {self.path} is damaged ({self.damaged}); "
                                 f"run 'sitealert sync' to repair it")

    def check(self, item: str) -> Match | None:
        """The listed target covering item (raw URL, host or app id) with its countries and
        categories, or None. Same answer as the server's /api/v1/lookup at this version."""
        self._usable()
        return self._matcher.check(item)

    def check_many(self, items: Iterable[str]) -> list[Match | None]:
        """check() for each item, in order."""
        self._usable()
        return self._matcher.check_many(items)

    def targets(self) -> list[str]:
        """The listed targets, sorted."""
        self._usable()
        return list(self._matcher)

    def iter_targets(self) -> Iterator[str]:
        """The listed targets, sorted, one at a time: read from the replica's files as they are used
        (`sitealert export` of a list of any size), never all in memory at once."""
        self._usable()
        snapshot = self._snapshot
        if snapshot is None:
            return iter(self._matcher)
        return (target for target, _meta, _first in self._records(snapshot))

    @staticmethod
    def _records(snapshot: store.Snapshot) -> Iterator[tuple[str, int, int]]:
        records = generation.iter_records(snapshot.base.records)
        if snapshot.overlay is not None:
            records = generation.merged(records, generation.iter_records(snapshot.overlay.records))
        return records

    def entries(self) -> Iterator[dict[str, Any]]:
        """The list as feed entries (target, kind, countries, categories, first_listed_at), sorted."""
        self._usable()
        snapshot = self._snapshot
        if snapshot is not None:
            combos = (snapshot.overlay or snapshot.base).combos
            for target, meta, first in self._records(snapshot):
                kind, countries, categories = combos[meta & generation.COMBO_MASK]
                yield {"target": target, "kind": kind, "countries": list(countries),
                       "categories": list(categories), "first_listed_at": generation.first_text(first)}
            return
        for target in sorted(self._matcher):
            match = self._matcher.get(target)
            assert match is not None
            yield {"target": target, "kind": "app" if target.startswith(("android:", "ios:")) else "domain",
                   "countries": list(match.countries), "categories": list(match.categories),
                   "first_listed_at": None}

    # -- sync --------------------------------------------------------------------------------

    def sync(self, url: str | None = None, token: str | None = None, *,
             mirror: str | Sequence[str] | None = None, root: str | os.PathLike[str] | None = None,
             **options: Any) -> "SyncResult":
        """Bring the replica current: from the server at url with an API token (see
        sitealert.client.sync.sync_replica), or from signed mirrors verified against a pinned TUF
        root (``mirror=URL or [URL, ...]``, ``root=PATH``, ``token=`` if the mirror needs one; see
        sitealert.client.mirror.sync_from_mirrors)."""
        if self.path is None:
            raise TypeError("an in-memory replica (Replica.from_targets) cannot sync")
        if mirror is not None:
            if url is not None:
                raise ValueError("sync from a server (url) or from mirrors (mirror), not both")
            from .mirror import sync_from_mirrors  # tuf and urllib3 load only when a mirror sync runs

            return sync_from_mirrors(self, mirror, root, token, **options)
        if url is None or token is None:
            raise TypeError("sync() needs the server's url and a token, or mirror= and root=")
        if root is not None:
            raise ValueError("root= pins the trust of a mirror sync: give mirror= too")
        from .sync import sync_replica  # the network stack is loaded only when a sync runs

        return sync_replica(self, url, token, **options)
