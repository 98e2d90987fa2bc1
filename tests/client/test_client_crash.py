"""A sync killed at any moment (SIGKILL) leaves a replica that opens at the old or the new version,
never damaged, and the next sync completes it."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sitealert.client import Replica, store

from .conftest import checksum_of

pytestmark = [pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PROGRAM = """
import sys
from sitealert.client import Replica, store
print("syncing", flush=True)
if sys.argv[4] == "compact":  # compaction on its own: the overlay merged into a new base
    assert Replica(sys.argv[1]).compact()
else:
    Replica(sys.argv[1]).sync(sys.argv[2], sys.argv[3], full=sys.argv[4] == "full", retries=0, timeout=30)
"""
# Every step of store.write_generation / write_manifest / remove_debris, in order (an incremental
# sync writes an overlay, a full one a base).
STEPS_BEFORE_SWAP = ["data-partial", "data-written", "data-renamed", "manifest-written"]
STEPS_AFTER_SWAP = ["manifest-replaced", "cleaned"]


def _sync_process(directory, url, token, mode="auto", crash_at=None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SITEALERT_TEST_CRASH_AT", None)
    if crash_at:
        env["SITEALERT_TEST_CRASH_AT"] = crash_at
    return subprocess.Popen([sys.executable, "-c", PROGRAM, str(directory), url, token, mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _assert_intact(directory, state, allowed_versions):
    replica = Replica(directory)
    assert replica.damaged is None
    assert replica.version in allowed_versions
    expected = state.versions[replica.version]
    assert replica.checksum == checksum_of(expected)
    assert sorted(replica.targets()) == sorted(expected)
    sample = sorted(expected)[:50]
    assert [m.target for m in replica.check_many(["www." + t for t in sample if ":" not in t])] == \
        [t for t in sample if ":" not in t]
    return replica


@pytest.mark.parametrize("step", STEPS_BEFORE_SWAP + STEPS_AFTER_SWAP)
@pytest.mark.parametrize("kind", ["first-sync", "incremental", "second-overlay", "compaction"])
def test_killed_at_each_step(feed_server, tmp_path, step, kind):
    url, state = feed_server
    state.publish(add=[f"site{i}.example.com" for i in range(300)])
    old_version = 0
    if kind != "first-sync":
        Replica(tmp_path).sync(url, state.token)
        old_version = 1
        if kind == "second-overlay":  # the killed sync replaces an overlay with another
            state.publish(add=["first.example.org"], remove=["site3.example.com"])
            assert Replica(tmp_path).sync(url, state.token).mode == "incremental"
            assert store.read_manifest(tmp_path)["overlay"]
            old_version = 2
        state.publish(add=["new.example.net"], remove=["site7.example.com"])
        if kind == "compaction":  # the killed process compacts version 2's base and overlay
            assert Replica(tmp_path).sync(url, state.token).mode == "incremental"
            assert store.read_manifest(tmp_path)["overlay"]
            old_version = 2
    new_version = state.version

    process = _sync_process(tmp_path, url, state.token, mode="compact" if kind == "compaction" else "auto",
                            crash_at=step)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    expected = new_version if step in STEPS_AFTER_SWAP else old_version
    _assert_intact(tmp_path, state, {expected})
    if kind == "compaction":
        compacted = step in STEPS_AFTER_SWAP
        assert (store.read_manifest(tmp_path)["overlay"] is None) == compacted
        assert Replica(tmp_path).compact() is not compacted  # done again, or nothing left to do
        assert store.read_manifest(tmp_path)["overlay"] is None

    result = Replica(tmp_path).sync(url, state.token)
    assert result.new_version == new_version
    _assert_intact(tmp_path, state, {new_version})
    manifest = store.read_manifest(tmp_path)
    named = {manifest[key] for key in ("data", "overlay", "previous_data", "previous_overlay")}
    leftovers = {p.name for p in tmp_path.iterdir()} - {store.MANIFEST, store.LOCK} - named
    assert leftovers == set()
    if kind == "compaction":
        assert manifest["overlay"] is None and manifest["data"].startswith("base-000000000002-")


def _wait_for_temporary_file(directory, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.name.endswith(".tmp") for p in directory.iterdir()):
            return True
        time.sleep(0.0005)
    return False


def test_killed_at_random_moments(feed_server, tmp_path):
    """External SIGKILLs at seeded random moments: half anywhere in the sync, half just after the
    new data file appears (the write phase, a few milliseconds of a sync)."""
    url, state = feed_server
    state.publish(add=[f"site{i}.example{i % 7}.com" for i in range(12_000)])
    pristine = tmp_path / "pristine"
    Replica(pristine).sync(url, state.token)
    state.publish(add=[f"more{i}.example.org" for i in range(6_000)],
                  remove=[f"site{i}.example{i % 7}.com" for i in range(0, 12_000, 3)])
    timing = tmp_path / "timing"
    shutil.copytree(pristine, timing)
    process = _sync_process(timing, url, state.token, mode="full")
    process.stdout.readline()
    started = time.monotonic()
    assert process.communicate(timeout=120)[1] == "" and process.returncode == 0
    whole = time.monotonic() - started

    rnd = random.Random(7)
    outcomes = []
    for attempt in range(6):
        directory = tmp_path / f"run{attempt}"
        shutil.copytree(pristine, directory)
        process = _sync_process(directory, url, state.token, mode="full")
        process.stdout.readline()  # the child has imported everything and starts syncing
        if attempt % 2 == 0:
            time.sleep(rnd.uniform(0, whole))
        else:
            _wait_for_temporary_file(directory, timeout=whole * 3)
            time.sleep(rnd.uniform(0, 0.01))
        mid_write = any(p.name.endswith(".tmp") for p in directory.iterdir())
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        replica = _assert_intact(directory, state, {1, 2})
        outcomes.append((replica.version, mid_write))
        assert Replica(directory).sync(url, state.token).new_version == 2
    print("(version left, killed while a temporary file existed):", outcomes)
