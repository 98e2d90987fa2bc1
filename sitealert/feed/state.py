"""The current (epoch, version) of the aggregated list, as a hashable value, and its checksum.

Requests that only compare versions (a feed 304, lookups, the private lookup's prefixes, the
check page and API) read it at every call. A web process keeps what it read (`current_state`), so that such a request
costs no statement — on PostgreSQL a round trip, and Django's health check of the connection
before it, were half the time of a feed 304. A new version is seen

- at once by the process that published it (`published`, at the write and again at the commit);
- at once by the other processes of the same host: the publisher then replaces a stamp file in
  FEED_CACHE_DIR, which each process compares (one `stat`) with the one it saw when it read;
- within STATE_CACHE_SECONDS by the processes of another host that does not share that directory.
"""

import os
import threading
import time
from typing import NamedTuple

from django.db import transaction

from sitealert.core import tallies
from sitealert.core.conf import setting
from sitealert.feed.builder import cached_checksum, feed_state

STAMP = "state.stamp"


class State(NamedTuple):
    epoch: str
    version: int


class _Kept(NamedTuple):
    state: State
    read_at: float
    stamp: tuple | None
    directory: str


_kept: list[_Kept] = []  # at most one: what this process read last
_lock = threading.Lock()


def current_state():
    """The State of the list now (what `builder.etag` needs: epoch and version)."""
    ttl = setting("STATE_CACHE_SECONDS")
    if ttl <= 0:
        return _read()
    directory = str(setting("FEED_CACHE_DIR"))
    stamp = _stamp(directory)
    kept = _kept[0] if _kept else None
    if kept is not None and kept.stamp == stamp and kept.directory == directory \
            and time.monotonic() - kept.read_at < ttl:
        return kept.state
    # The stamp was read before the statement: a publication committed after the statement replaces
    # it after its commit, so what is kept here is read again at the next call.
    state = _read()
    with _lock:
        _kept[:] = [_Kept(state, time.monotonic(), stamp, directory)]
    return state


def _read():
    row = feed_state()
    return State(row.epoch, row.version)


def published():
    """The list's state changes in the current transaction (a new version, a pruned history, a
    restored epoch): this process forgets what it kept now, and at the commit again, when the
    processes of this host are told too (the stamp). Should the transaction roll back after a read
    of the state inside it, this process may keep that version, never committed, for at most
    STATE_CACHE_SECONDS; no writer reads it there."""
    forget()
    transaction.on_commit(_tell_the_host)


def forget():
    with _lock:
        _kept.clear()


def _tell_the_host():
    forget()
    directory = setting("FEED_CACHE_DIR")
    try:
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".{STAMP}.{os.getpid()}.{threading.get_ident()}")
        with open(temporary, "wb") as f:
            f.write(os.urandom(16))
        os.replace(temporary, os.path.join(directory, STAMP))
    except OSError:
        pass  # the other processes see the new version within STATE_CACHE_SECONDS


def _stamp(directory):
    try:
        found = os.stat(os.path.join(directory, STAMP))
    except OSError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_ctime_ns)


tallies.register(lambda: None, forget)  # each test starts without a kept state


_checksums: dict[State, str] = {}


def known_checksum(state):
    """`builder.cached_checksum(state)`, remembered in this process once found: a version's
    checksum never changes, and a 304 then needs no file (nor `os.makedirs` of its directory)."""
    checksum = _checksums.get(state)
    if checksum is None:
        checksum = cached_checksum(state)
        if checksum is not None:
            _checksums.clear()  # one version at a time: the current one
            _checksums[state] = checksum
    return checksum


class PerVersion:
    """Answers that depend only on their key and on the list's version, kept for one version: at most
    `max_items`, then it starts afresh; and at most `max_seconds`, so that what changes without a
    new version (an authority's name) shows within that time."""

    def __init__(self, max_items, max_seconds):
        self.max_items, self.max_seconds = max_items, max_seconds
        self.clear()
        tallies.register(lambda: None, self.clear)  # each test starts without answers

    def clear(self):
        self._version, self._items, self._started = None, {}, 0.0

    def items(self, state):
        """The answers kept for `state`'s version (a dict to read and to `keep` into)."""
        key = (state.epoch, state.version)
        if key != self._version or time.monotonic() - self._started >= self.max_seconds:
            self._version, self._items, self._started = key, {}, time.monotonic()
        return self._items

    def keep(self, items, key, answer):
        if len(items) >= self.max_items:
            items.clear()
        items[key] = answer
