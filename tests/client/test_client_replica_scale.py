"""A replica of a large list opens in constant time and is shared, not copied, by every process
that opens it (the generation files are mapped read-only and shared)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sitealert.client import Replica, store
from sitealert.matcher import ACCELERATED, generation

REPO = Path(__file__).resolve().parents[2]
SIZE = 300_000
PROCESSES = 16

pytestmark = [
    pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs Linux /proc/<pid>/smaps"),
    # the pure-Python fallback reads the files into dicts: correct, neither constant-time nor shared
    pytest.mark.skipif(not ACCELERATED, reason="the C table is not built or SITEALERT_PURE_PYTHON is set"),
    pytest.mark.slow,
]


def _targets(count):
    return sorted(f"site{i:07d}.example{i % 13}.com" for i in range(count))


def _write_replica(directory, targets):
    """A synced-looking replica written with the generation writer (no server needed)."""
    directory.mkdir()
    checksum = store.fast_checksum(targets)
    combos = [("domain", ("FR",), ("streaming-video",)), ("domain", ("FR", "IT"), ("live-sports",))]

    def fill(writer):
        for start in range(0, len(targets), 50_000):
            chunk = targets[start:start + 50_000]
            writer.add_entries(chunk, [i % 2 for i in range(len(chunk))], [1767225600] * len(chunk))
        return writer.finish(combos, checksum, count_hint=len(targets))

    name, sha256, header = store.write_generation(directory, 7, generation.BASE, fill)
    store.write_manifest(directory, store.new_manifest(7, checksum, header.total, (name, sha256), None, None,
                                                       server="http://127.0.0.1"))
    return name


def test_a_large_replica_opens_in_constant_time(tmp_path):
    targets = _targets(SIZE)
    _write_replica(tmp_path / "large", targets)
    _write_replica(tmp_path / "small", targets[:1000])
    timings = {}
    for size in ("small", "large"):
        samples = []
        for _ in range(3):  # the best of three: one open can wait on a busy machine
            started = time.perf_counter()
            replica = Replica(tmp_path / size)
            samples.append(time.perf_counter() - started)
            assert replica.damaged is None
        timings[size] = min(samples)
    assert len(replica) == SIZE and replica.version == 7
    assert replica.check("https://www.site0123456.example8.com/x").target == "site0123456.example8.com"
    assert replica.check("site0123456.example8.com").countries == ("FR",)
    assert replica.check("www.site0123457.example9.com").countries == ("FR", "IT")
    assert next(replica.entries())["first_listed_at"] == "2026-01-01T00:00:00Z"
    replica.verify()
    # Opening maps the files and reads their headers: no work in proportion to the list.
    assert timings["large"] < 0.25, timings
    assert timings["large"] < timings["small"] * 20 + 0.02, timings


CHILD = """
import sys
from sitealert.client import Replica
replica = Replica(sys.argv[1])
targets = replica.targets()
assert all(m is not None for m in replica.check_many(["www." + t for t in targets]))
print("ready", flush=True)
sys.stdin.readline()
rss = pss = shared = 0
inside = False
for line in open("/proc/self/smaps"):
    fields = line.split()
    if not fields[0].endswith(":"):  # a mapping's first line: address range, permissions, ..., path
        inside = fields[-1].endswith(sys.argv[2])
    elif inside and fields[0] in ("Rss:", "Pss:", "Shared_Clean:"):
        value = int(fields[1])
        if fields[0] == "Rss:":
            rss += value
        elif fields[0] == "Pss:":
            pss += value
        else:
            shared += value
print(rss, pss, shared, flush=True)
"""


def test_processes_that_open_one_replica_share_one_copy(tmp_path):
    name = _write_replica(tmp_path / "replica", _targets(SIZE))
    size_kb = (tmp_path / "replica" / name).stat().st_size // 1024
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "replica"), name], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(PROCESSES)]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
        # every child has used the whole table and is still alive: now each one reads its own smaps
        for child in children:
            child.stdin.write("go\n")
            child.stdin.flush()
        figures = [tuple(map(int, child.stdout.readline().split())) for child in children]
    finally:
        for child in children:
            child.kill()
            child.communicate()
    for rss, pss, shared in figures:
        # each process has the whole file resident, shared with the others: its proportional share
        # is a fraction of it, and none of it is a private copy
        assert rss >= size_kb * 0.9, (rss, size_kb)
        assert shared >= rss * 0.9, (rss, shared)
        assert pss <= rss / 4, (rss, pss)
    print(f"file {size_kb} kB; per process (Rss, Pss, Shared_Clean) kB: {figures}")


def _mapped_kb(name):
    """This process's resident kB of the mappings of the file `name` (from /proc/self/smaps)."""
    rss, inside = 0, False
    for line in open("/proc/self/smaps"):
        fields = line.split()
        if not fields[0].endswith(":"):
            inside = fields[-1].endswith(name)
        elif inside and fields[0] == "Rss:":
            rss += int(fields[1])
    return rss


def test_preload_maps_every_page_before_the_first_check(tmp_path):
    name = _write_replica(tmp_path / "replica", _targets(SIZE))
    size_kb = (tmp_path / "replica" / name).stat().st_size // 1024
    replica = Replica(tmp_path / "replica")
    assert _mapped_kb(name) < size_kb / 4  # opening reads the header and the combos only
    replica.preload()
    assert _mapped_kb(name) >= size_kb * 0.9
    preloaded = Replica(tmp_path / "replica", preload=True)
    assert preloaded.check("www.site0123456.example8.com").target == "site0123456.example8.com"
    assert preloaded.check_many(["www.site0000001.example1.com", "nothing.example"])[1] is None
    Replica.from_targets(["example.com"]).preload()  # in memory already: nothing to do
    Replica(tmp_path / "never-synced").preload()
