"""The feed cache cleans up after writers that died and after old epochs, and never under a live writer.

A writer killed between creating its temporary file and renaming it into place (kill -9, a power
cut) leaves a `.tmp-*` file; a reset database leaves the directory of its old epoch. Both are
removed at the next build's prune once old enough; a live writer's file (it holds a lock on it),
however old its time stamp, and a directory holding files that are not the cache's, stay.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from sitealert.feed import builder, cache
from sitealert.feed.models import FeedState

pytestmark = pytest.mark.django_db

WRITER = """
import sys, time
from sitealert.feed import cache
with cache._atomic_file(sys.argv[1]) as f:
    f.write(b"half a document")
    f.flush()
    print("writing", flush=True)
    time.sleep(120)
"""


def start_writer(path):
    """A process writing `path` through the cache, paused halfway; returns (process, its temporary file)."""
    before = set(os.listdir(os.path.dirname(path)))
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    (name,) = [n for n in set(os.listdir(os.path.dirname(path))) - before if n.startswith(".tmp-")]
    return process, os.path.join(os.path.dirname(path), name)


def age(path, seconds=cache.DEBRIS_SECONDS + 60):
    then = time.time() - seconds
    os.utime(path, (then, then))


def new_version(italy, list_targets, target):
    list_targets(italy, [target])
    builder.cached_feed("txt")  # a build, and its prune


def test_a_killed_writers_file_goes_at_the_next_build_and_a_live_writers_stays(italy, list_targets):
    builder.cached_feed("txt")
    directory = cache.epoch_directory(builder.feed_state().epoch)
    killed, killed_file = start_writer(os.path.join(directory, "feed-1000.json"))
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    live, live_file = start_writer(os.path.join(directory, "feed-1001.json"))
    try:
        fresh_killed = os.path.join(directory, ".tmp-fresh")
        open(fresh_killed, "wb").close()
        age(killed_file)
        age(live_file)  # a writer that has written nothing for a long while is still alive

        new_version(italy, list_targets, "next.example")

        assert not os.path.exists(killed_file)
        assert os.path.exists(live_file)
        assert os.path.exists(fresh_killed)  # within the bound: perhaps a writer that has not locked it yet
    finally:
        live.kill()
        live.wait()
    new_version(italy, list_targets, "after.example")  # the writer died: its lock went with it
    assert not os.path.exists(live_file)
    assert not os.path.exists(os.path.join(directory, "feed-1001.json"))  # nothing half-written appeared


def test_old_epochs_go_once_untouched_for_the_bound(italy, list_targets, settings):
    root = settings.SITEALERT["FEED_CACHE_DIR"]
    builder.cached_feed("txt")
    old = root / builder.feed_state().epoch
    recent = root / "0123456789abcdef"
    foreign = root / "not-ours"
    for directory in (recent, foreign):
        directory.mkdir()
        (directory / "feed-3.txt").write_text("a.example\n")
    (foreign / "notes.txt").write_text("an operator's file")
    for path in [*old.iterdir(), old, *foreign.iterdir(), foreign]:
        age(path)

    FeedState.objects.update(epoch="fedcba9876543210")  # a reset database
    new_version(italy, list_targets, "next.example")

    assert sorted(p.name for p in root.iterdir()) == ["0123456789abcdef", "fedcba9876543210", "not-ours"]
    assert builder.cached_feed("txt")[2] == b"next.example\n"


def test_an_old_epoch_with_a_live_writer_stays(italy, list_targets, settings):
    root = settings.SITEALERT["FEED_CACHE_DIR"]
    builder.cached_feed("txt")
    old = root / builder.feed_state().epoch
    live, live_file = start_writer(str(old / "feed-1000.txt"))
    try:
        for path in [*old.iterdir(), old]:
            age(path)
        FeedState.objects.update(epoch="fedcba9876543210")
        new_version(italy, list_targets, "next.example")
        assert old.is_dir() and os.path.exists(live_file)
    finally:
        live.kill()
        live.wait()


def test_a_lock_file_nobody_holds_goes_once_old_and_a_held_one_stays():
    directory = cache.epoch_directory(builder.feed_state().epoch)
    with cache.lock(directory, "changes-7"):
        pass
    idle = os.path.join(directory, ".lock-changes-7")
    age(idle)
    with cache.lock(directory, "changes-8"):
        held = os.path.join(directory, ".lock-changes-8")
        age(held)
        cache.remove_debris(directory)
        assert os.path.exists(held)
    assert not os.path.exists(idle)
