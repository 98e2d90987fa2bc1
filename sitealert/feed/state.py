"""The current (epoch, version) of the aggregated list, read with one SQL statement.

Requests that only compare versions (a feed 304, the changes and lookup endpoints) run this at
every call: a plain statement costs a fraction of the ORM query `builder.feed_state()` builds
(about 1 ms of a 304's 2.3 ms, profiled). It is read afresh each time, so a new version is
seen by the next request.
"""

from typing import NamedTuple

from django.db import connection

from sitealert.feed.builder import cached_checksum, feed_state


class State(NamedTuple):
    epoch: str
    version: int


def current_state():
    """The State of the list now (what `builder.etag` needs: epoch and version)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT epoch, version FROM feed_feedstate WHERE id = 1")
        row = cursor.fetchone()
    if row is None:  # a database no version was ever written to: the ORM creates the row
        state = feed_state()
        return State(state.epoch, state.version)
    return State(row[0], row[1])


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
