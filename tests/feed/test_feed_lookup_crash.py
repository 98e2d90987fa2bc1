"""The lookup's base file (FEED_CACHE_DIR/<epoch>/lookup-<version>.gen) under SIGKILL: a process
killed while it writes the base leaves no base behind, or a whole one; the next process writes
it and answers. Real processes and a real SQLite database (the file's writing does not depend on
the database)."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from sitealert.matcher import ACCELERATED, generation
from tests.monitoring.harness import ScratchDatabase

pytestmark = [pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"),
              pytest.mark.skipif(not ACCELERATED, reason="without the C accelerator the base is in memory"),
              pytest.mark.slow]
ROWS = 300_000
CHILD = r"""
import sys
import django
django.setup()
from django.db import connection
from sitealert.feed import cache, lookup
from sitealert.feed.builder import feed_state
state = feed_state()
if sys.argv[1] == "fill":
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO feed_feedentry (target, kind, countries, categories, first_listed_at, version) "
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < %s) "
            "SELECT 'host' || i || '.example', 'domain', 'IT', 'streaming-video', '2024-01-01 00:00:00', 1 FROM s",
            [int(sys.argv[2]) - 1])
        cursor.execute("UPDATE feed_feedstate SET version = 1 WHERE id = 1")
    print(cache.epoch_directory(state.epoch))
else:
    print(lookup.CurrentMatcher(mapped=True).get().matched(["www.host7.example", "host7.example.org"]))
"""


def bases(directory):
    return sorted(name for name in os.listdir(directory) if name.startswith("lookup-"))


def test_a_writer_killed_at_random_moments_leaves_no_half_base(tmp_path):
    database = ScratchDatabase(tmp_path).create()
    run = [sys.executable, "-c", CHILD]
    directory = subprocess.run(run + ["fill", str(ROWS)], env=database.env(), check=True, capture_output=True,
                               text=True, timeout=300).stdout.strip().splitlines()[-1]
    rng = random.Random(14)
    killed_while_writing = 0
    for _attempt in range(6):
        child = subprocess.Popen(run + ["lookup"], env=database.env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while child.poll() is None and not any(n.startswith(".tmp-") for n in os.listdir(directory)):
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
        found = bases(directory)
        if found:  # the kill came after the rename: then the base is whole
            generation.open_file(os.path.join(directory, found[0])).close()
            os.remove(os.path.join(directory, found[0]))  # and the next attempt writes it again
        else:
            killed_while_writing += 1
    assert killed_while_writing >= 2
    answered = subprocess.run(run + ["lookup"], env=database.env(), check=True, capture_output=True, text=True,
                              timeout=300).stdout.strip().splitlines()[-1]
    assert answered == "['host7.example', None]" and bases(directory) == ["lookup-1.gen"]
