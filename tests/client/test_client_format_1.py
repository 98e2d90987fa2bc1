"""A replica written by an older client (format 1: the list in one tab-separated file) is converted in
place by the next sync, which then goes on incrementally: no download of the list. A format-1 file
that does not match its manifest is downloaded again; a conversion killed at any step leaves the
old replica or the converted one, and the next sync completes it."""

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sitealert.client import Replica, store

from .conftest import checksum_of, entry

FAST = {"retries": 2, "backoff": 0.01, "timeout": 5}
REPO = Path(__file__).resolve().parents[2]
SYNC = """
import sys
from sitealert.client import Replica
Replica(sys.argv[1]).sync(sys.argv[2], sys.argv[3], retries=0, timeout=30)
"""


@pytest.fixture
def published(feed_server):
    url, state = feed_server
    state.publish(add=["example.com", "video.example.org", "android:com.Example.Player",
                       entry("films.example", countries=("FR", "IT"), categories=("cyberlocker", "streaming-video"))])
    return url, state


def write_format_1(directory, url, state):
    """A replica as the format-1 client left it, at the server's current version."""
    entries = state.versions[-1]
    data = "".join(f"{t}\t{e['kind']}\t{','.join(e['countries'])}\t{','.join(e['categories'])}\t"
                   f"{e['first_listed_at'] or ''}\n" for t, e in sorted(entries.items())).encode()
    name = f"entries-{state.version:012d}-0badcafe.tsv"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)
    manifest = {"format": store.FORMAT, "format_version": 1, "version": state.version,
                "checksum": checksum_of(entries), "count": len(entries), "data": name,
                "data_sha256": hashlib.sha256(data).hexdigest(), "previous_data": None, "server": url,
                "checked_at": "2026-01-02T03:04:05Z", "synced_at": "2026-01-02T03:04:05Z", "etag": None,
                "etag_url": None}
    (directory / store.MANIFEST).write_text(json.dumps(manifest))
    return directory / name


def full_downloads(state):
    return [path for _, path, _, _ in state.requests if path == "/api/v1/feed"]


def test_the_next_sync_converts_it_in_place_and_goes_on_incrementally(published, tmp_path):
    url, state = published
    tsv = write_format_1(tmp_path, url, state)
    before = Replica(tmp_path)
    assert "format version 1" in before.damaged and "converts" in before.damaged
    state.publish(add=["new.example.net"], remove=["video.example.org"])

    result = before.sync(url, state.token, **FAST)

    assert (result.mode, result.old_version, result.new_version) == ("incremental", 1, 2)
    assert (result.added, result.removed) == (("new.example.net",), ("video.example.org",))
    assert full_downloads(state) == []
    replica = Replica(tmp_path)
    assert replica.damaged is None and replica.version == 2 and replica.checksum == checksum_of(state.versions[-1])
    replica.verify()
    assert list(replica.entries()) == [state.versions[-1][t] for t in sorted(state.versions[-1])]
    assert replica.check("www.films.example").countries == ("FR", "IT")
    assert not tsv.exists()  # the next version's sync removed the old file


def test_an_unchanged_list_is_converted_without_a_download(published, tmp_path):
    url, state = published
    write_format_1(tmp_path, url, state)
    result = Replica(tmp_path).sync(url, state.token, **FAST)
    assert result.mode == "unchanged" and full_downloads(state) == []
    manifest = store.read_manifest(tmp_path)
    assert manifest["format_version"] == store.FORMAT_VERSION and manifest["version"] == 1
    assert Replica(tmp_path).check("example.com").target == "example.com"


@pytest.mark.parametrize("damage", [
    lambda data: data.replace(b"example.com", b"exanple.com"),  # its SHA-256 and checksum differ
    lambda data: data.replace(b"\tdomain\t", b"\tdomain\tIT\t", 1),  # a line of six fields
    lambda data: data[:-1],  # cut short
])
def test_a_format_1_file_that_does_not_match_its_manifest_is_downloaded_again(published, tmp_path, damage):
    url, state = published
    tsv = write_format_1(tmp_path, url, state)
    tsv.write_bytes(damage(tsv.read_bytes()))
    result = Replica(tmp_path).sync(url, state.token, **FAST)
    assert result.mode == "full" and "damaged" in result.reason and tsv.name in result.reason
    assert full_downloads(state) == ["/api/v1/feed"]
    assert Replica(tmp_path).checksum == checksum_of(state.versions[-1])
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path))


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
@pytest.mark.parametrize("step", ["data-partial", "data-written", "data-renamed", "manifest-written",
                                  "manifest-replaced"])
def test_a_conversion_killed_at_any_step_leaves_one_replica_or_the_other(published, tmp_path, step):
    url, state = published
    write_format_1(tmp_path, url, state)
    env = {**os.environ, "PYTHONPATH": str(REPO), "SITEALERT_TEST_CRASH_AT": step}
    killed = subprocess.run([sys.executable, "-c", SYNC, str(tmp_path), url, state.token], env=env,
                            capture_output=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    replica = Replica(tmp_path)
    if replica.damaged:  # killed before the new manifest: still the old replica, whole
        assert "format version 1" in replica.damaged
        assert store.read_old_manifest(tmp_path)["version"] == 1
    else:
        assert replica.version == 1 and replica.checksum == checksum_of(state.versions[-1])
    env.pop("SITEALERT_TEST_CRASH_AT")
    subprocess.run([sys.executable, "-c", SYNC, str(tmp_path), url, state.token], env=env, check=True, timeout=60)
    replica = Replica(tmp_path)
    assert replica.damaged is None and replica.checksum == checksum_of(state.versions[-1])
    replica.verify()
    assert full_downloads(state) == []
    assert not any(name.endswith(".tmp") or name.startswith("base-") and name not in
                   (store.read_manifest(tmp_path)["data"],) for name in os.listdir(tmp_path))
