"""The current (epoch, version) of the aggregated list, as a hashable value, and its checksum.

Requests that only compare versions (a feed 304, lookups) read it at every call: one plain
statement (`builder.feed_state`), so a new version is seen by the next request.
"""

from typing import NamedTuple

from sitealert.feed.builder import cached_checksum, feed_state


class State(NamedTuple):
    epoch: str
    version: int


def current_state():
    """The State of the list now (what `builder.etag` needs: epoch and version)."""
    state = feed_state()
    return State(state.epoch, state.version)


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
