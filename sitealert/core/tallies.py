"""Counts a process keeps in memory and writes to the database every few seconds, so a read never writes.

A request that only reads (a feed download, a public check, any call with a bearer token) still
counts something: a request against a rate limit, a download for the audit log, when a token was
last used. Written one by one, that is a database write per read. Instead each kind of count adds
up in memory here, and a background thread of each web process writes the sums every
TALLY_FLUSH_SECONDS, and once more when the process exits: a statement or two per kind for all
that the process counted meanwhile, whatever the number of requests.

`register(flush)` adds a kind of count: `flush()` writes what it holds and keeps, for the next
time, what it could not write. `start()` turns the background flush on for this process and the
processes forked from it (`sitealert serve`, `sitealert/wsgi.py`); a process that never calls it
(tests, commands) writes when it calls `flush()` or exits.
"""

import atexit
import logging
import os
import threading
import time

from django.db import connection

from sitealert.core.conf import setting

logger = logging.getLogger(__name__)

_flushers = []
_clearers = []
_lock = threading.Lock()
_started = {"on": False, "pid": None}


def register(flush, clear):
    """Call `flush()` at every flush of this process; `clear()` forgets the counts without writing them."""
    _flushers.append(flush)
    _clearers.append(clear)


def flush():
    """Write every kind of count this process holds; a kind that fails keeps its counts and logs why."""
    for write in _flushers:
        try:
            write()
        except Exception:  # the database may be away for a moment: the counts wait for the next flush
            logger.exception("could not write the counts of %s", getattr(write, "__qualname__", write))


def clear():
    """Forget every count this process holds, unwritten (each test starts afresh)."""
    for forget in _clearers:
        forget()


def start():
    """Flush in the background from now on, in this process and in every process forked from it."""
    if not _started["on"]:
        _started["on"] = True
        atexit.register(flush)
    wake()


def wake():
    """Start this process's flusher thread if flushing is on and it has none yet. Every count calls
    it: a thread does not survive a fork, so a forked web worker starts its own at its first count."""
    if not _started["on"] or _started["pid"] == os.getpid():
        return
    with _lock:
        if _started["pid"] != os.getpid():
            _started["pid"] = os.getpid()
            threading.Thread(target=_flush_forever, name="sitealert-tallies", daemon=True).start()


def _flush_forever():
    while True:
        time.sleep(setting("TALLY_FLUSH_SECONDS"))
        # This thread's own connection: reopened when CONN_MAX_AGE says so or when it broke.
        connection.close_if_unusable_or_obsolete()
        flush()
