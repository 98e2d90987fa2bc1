"""Replica.sync against a real HTTP server speaking the SPEC §4 feed protocol (tests/client/conftest.py)."""

import socket

import pytest

from sitealert.client import (
    AuthError,
    ChecksumMismatch,
    IncompatibleServer,
    ProtocolError,
    Replica,
    ReplicaAhead,
    ReplicaDamaged,
    ServerError,
    ServerUnreachable,
    SyncInProgress,
    store,
)

from .conftest import checksum_of, entry

FAST = {"retries": 2, "backoff": 0.01, "timeout": 5}


def _paths(state):
    return [(path, query.get("since", [None])[0]) for _, path, query, _ in state.requests]


@pytest.fixture
def published(feed_server):
    url, state = feed_server
    state.publish(add=["example.com", "video.example.org", "android:com.Example.Player"])
    return url, state


def test_first_sync_downloads_the_full_list_and_survives_reopening(published, tmp_path):
    url, state = published
    replica = Replica(tmp_path / "replica")
    assert (replica.version, len(replica)) == (0, 0)
    result = replica.sync(url, state.token, **FAST)
    assert (result.mode, result.reason, result.old_version, result.new_version) == ("full", "new replica", 0, 1)
    assert result.added == ("android:com.Example.Player", "example.com", "video.example.org")
    assert replica.check("https://www.example.com/x").target == "example.com"
    assert replica.checksum == checksum_of(state.versions[-1])
    reopened = Replica(tmp_path / "replica")
    assert (reopened.version, reopened.checksum, reopened.server) == (1, replica.checksum, url)
    assert reopened.check("cdn.video.example.org").countries == ("FR",)
    assert [e["target"] for e in reopened.entries()] == sorted(state.versions[-1])
    assert _paths(state) == [("/api/v1/feed", None)]


def test_later_syncs_are_incremental_and_report_what_changed(published, tmp_path):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    state.publish(add=["new.example.net"], remove=["video.example.org"])
    state.publish(update=[entry("example.com", countries=("FR", "IT"))])
    result = replica.sync(url, state.token, **FAST)
    assert (result.mode, result.old_version, result.new_version) == ("incremental", 1, 3)
    assert (result.added, result.removed, result.updated) == (("new.example.net",), ("video.example.org",),
                                                             ("example.com",))
    assert replica.check("a.video.example.org") is None
    assert replica.check("example.com").countries == ("FR", "IT")
    assert replica.checksum == checksum_of(state.versions[-1])
    assert _paths(state)[-1] == ("/api/v1/feed/changes", "1")


def test_an_idle_poll_is_a_conditional_request(published, tmp_path):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    assert replica.sync(url, state.token, **FAST).mode == "unchanged"
    result = replica.sync(url, state.token, **FAST)
    assert (result.mode, result.new_version) == ("unchanged", 1)
    last_headers = state.requests[-1][3]
    assert last_headers.get("If-None-Match")
    assert replica.checked_at is not None


def test_history_gone_410_means_a_full_download(published, tmp_path):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    state.publish(add=["later.example.com"])
    state.retained_from = 2
    result = replica.sync(url, state.token, **FAST)
    assert result.full and "410" in result.reason
    assert result.added == ("later.example.com",)
    assert replica.checksum == checksum_of(state.versions[-1])


def test_changes_that_miss_the_checksum_fall_back_to_a_full_download(published, tmp_path):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    state.publish(add=["one.example.com", "two.example.com"])
    state.corrupt_changes = True  # drops one change: applied changes no longer reproduce the checksum
    result = replica.sync(url, state.token, **FAST)
    assert result.full and "checksum" in result.reason
    assert "two.example.com" in replica.targets() and "one.example.com" in replica.targets()


def test_a_full_list_that_misses_its_checksum_changes_nothing(published, tmp_path):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    state.publish(add=["evil.example.net"])
    state.lie_about_checksum = True
    with pytest.raises(ChecksumMismatch, match="keeps version 1"):
        replica.sync(url, state.token, full=True, **FAST)
    assert (Replica(tmp_path).version, replica.version) == (1, 1)
    assert replica.check("evil.example.net") is None


def test_a_bad_token_is_a_clear_error_without_retries(published, tmp_path):
    url, state = published
    with pytest.raises(AuthError, match="refused the token.*Unknown or revoked token"):
        Replica(tmp_path).sync(url, "wrong", **FAST)
    assert len(state.requests) == 1
    assert not (tmp_path / store.MANIFEST).exists()


def test_an_unreachable_server_is_retried_then_reported(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(ServerUnreachable, match=f"127.0.0.1:{port}.*3 attempts"):
        Replica(tmp_path).sync(f"http://127.0.0.1:{port}", "t", **FAST)


def test_transient_server_errors_are_retried_with_backoff(published, tmp_path):
    url, state = published
    state.fail_next = [503, 429]
    assert Replica(tmp_path).sync(url, state.token, **FAST).new_version == 1
    assert len(state.requests) == 3


def test_a_server_that_keeps_failing_is_reported(published, tmp_path):
    url, state = published
    state.fail_next = [500, 502, 504]
    with pytest.raises(ServerError, match="HTTP 504.*3 attempts"):
        Replica(tmp_path).sync(url, state.token, **FAST)


def test_a_replica_ahead_of_the_server_is_a_clear_error_and_full_fixes_it(published, tmp_path):
    url, state = published
    state.publish(add=["a.example.com"])
    state.publish(add=["b.example.com"])
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    state.versions = state.versions[:2]  # the server was restored from an older backup
    with pytest.raises(ReplicaAhead, match="sync --full"):
        replica.sync(url, state.token, **FAST)
    assert replica.version == 3
    result = replica.sync(url, state.token, full=True, **FAST)
    assert (result.new_version, result.removed) == (1, ("a.example.com", "b.example.com"))


def _csv(version=9, checksum="sha256:" + "0" * 64, body=b"target,kind,countries,categories,first_listed_at\n"):
    return (200, body, [("X-SiteAlert-Version", str(version)), ("X-SiteAlert-Checksum", checksum)], "text/csv")


def test_a_server_from_the_future_is_named_as_such(published, tmp_path):
    url, state = published
    state.body_override = _csv(checksum="sha512:" + "0" * 128)
    with pytest.raises(IncompatibleServer, match="sha512.*upgrade"):
        Replica(tmp_path).sync(url, state.token, **FAST)


@pytest.mark.parametrize("override, message", [
    ((200, b"<html>Sign in</html>"), "not a csv list.*SiteAlert server"),
    (_csv(version="seven"), "not a version"),
    (_csv(checksum="sha256:zz"), "not a SHA-256"),
    (_csv(body=b"target,kind,countries,categories,first_listed_at\na b,domain,FR,x,\n"), "not a canonical target"),
    (_csv(body=b"target,kind,countries,categories,first_listed_at\nb.example,domain,FR,x,\na.example,domain,FR,x,\n"),
     "out of order"),
    (_csv(body=b"target,kind,countries,categories,first_listed_at\na.example,domain,FR\n"), "five columns"),
    (_csv(body=b"target;kind\n"), "does not start with"),
    (_csv(body=b""), "empty"),
    ((404, b"{}"), "no SiteAlert feed"),
    ((418, b"{}"), "HTTP 418"),
])
def test_answers_outside_the_protocol_change_nothing(published, tmp_path, override, message):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    state.body_override = override
    with pytest.raises(ProtocolError, match=message):
        replica.sync(url, state.token, full=True, **FAST)
    assert Replica(tmp_path).version == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_truncated_replica_opens_refuses_to_answer_and_is_repaired_by_a_full_sync(published, tmp_path):
    url, state = published
    Replica(tmp_path).sync(url, state.token, **FAST)
    manifest = store.read_manifest(tmp_path)
    data = tmp_path / manifest["data"]
    data.write_bytes(data.read_bytes()[:-8])
    damaged = Replica(tmp_path)
    assert "damaged" in damaged.damaged and damaged.version == 0
    with pytest.raises(ReplicaDamaged, match="sitealert sync"):
        damaged.check("example.com")
    result = damaged.sync(url, state.token, **FAST)
    assert result.full and "damaged" in result.reason
    assert damaged.damaged is None and damaged.check("www.example.com").target == "example.com"


def test_a_damaged_replica_opens_refuses_to_answer_and_is_repaired_by_a_full_sync(published, tmp_path):
    url, state = published
    Replica(tmp_path).sync(url, state.token, **FAST)
    manifest = store.read_manifest(tmp_path)
    data = tmp_path / manifest["data"]
    data.write_bytes(data.read_bytes().replace(b"example.com", b"exanple.com"))
    damaged = Replica(tmp_path)  # opening reads headers only (constant time): verify() reads every byte
    assert damaged.damaged is None
    with pytest.raises(ReplicaDamaged, match="SHA-256"):
        damaged.verify()
    assert "SHA-256" in damaged.damaged
    with pytest.raises(ReplicaDamaged, match="sitealert sync"):
        damaged.check("example.com")
    result = damaged.sync(url, state.token, **FAST)
    assert result.full and "damaged" in result.reason
    assert damaged.damaged is None and damaged.check("www.example.com").target == "example.com"


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"format": "sitealert-replica", "format_version": 99}'])
def test_an_unreadable_manifest_is_damage_not_a_crash(tmp_path, garbage):
    (tmp_path / store.MANIFEST).write_bytes(garbage)
    replica = Replica(tmp_path)
    assert replica.damaged


def test_another_server_means_a_full_download(published, tmp_path, feed_server):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    other = url.replace("127.0.0.1", "localhost")
    result = replica.sync(other, state.token, **FAST)
    assert result.full and "another server" in result.reason


def test_one_sync_at_a_time_per_directory(published, tmp_path):
    url, state = published
    with store.sync_lock(tmp_path), pytest.raises(SyncInProgress):
        Replica(tmp_path).sync(url, state.token, **FAST)


def test_readers_pick_up_another_process_sync_with_refresh(published, tmp_path):
    url, state = published
    writer = Replica(tmp_path)
    writer.sync(url, state.token, **FAST)
    reader = Replica(tmp_path)
    assert reader.refresh() is False
    state.publish(add=["fresh.example.net"])
    writer.sync(url, state.token, **FAST)
    assert reader.check("fresh.example.net") is None
    assert reader.refresh() is True
    assert reader.check("www.fresh.example.net").target == "fresh.example.net"
    writer.sync(url, state.token, **FAST)  # unchanged: only the manifest's times move
    assert reader.refresh() is False


def test_debris_of_interrupted_syncs_is_removed_and_one_previous_generation_kept(published, tmp_path):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    (tmp_path / "entries-000000000009-deadbeef.tsv.tmp").write_text("half")
    (tmp_path / "entries-000000000009-deadbeef.tsv").write_text("orphan")
    for name in ("x.example.com", "y.example.com"):
        state.publish(add=[name])
        replica.sync(url, state.token, **FAST)
    names = sorted(p.name for p in tmp_path.iterdir())
    manifest = store.read_manifest(tmp_path)
    assert names == sorted({store.MANIFEST, store.LOCK} | {manifest[key] for key in (
        "data", "overlay", "previous_data", "previous_overlay") if manifest[key]})
    assert manifest["overlay"] and manifest["previous_overlay"] and manifest["data"] == manifest["previous_data"]


def test_base_url_accepts_the_api_address_too(published, tmp_path):
    url, state = published
    assert Replica(tmp_path).sync(url + "/api/v1/", state.token, **FAST).new_version == 1
    with pytest.raises(ValueError, match="http"):
        Replica(tmp_path).sync("ftp://example.org", state.token)


def test_in_memory_replicas_cannot_sync():
    with pytest.raises(TypeError):
        Replica.from_targets(["example.com"]).sync("http://127.0.0.1:1", "t")


def test_overlays_accumulate_changes_until_compaction_merges_them_into_a_new_base(published, tmp_path, monkeypatch):
    url, state = published
    state.publish(add=[f"site{i}.other.org" for i in range(200)])
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    base = store.read_manifest(tmp_path)["data"]
    reader = Replica(tmp_path)
    monkeypatch.setattr(store, "COMPACT_MINIMUM", 5)
    monkeypatch.setattr(store, "COMPACT_FRACTION", 10**9)
    for step in range(3):  # each overlay holds every change since the base: 2, 4, then 6 > 5 records
        state.publish(add=[f"new{step}.example.net"], remove=[f"site{step}.other.org"])
        result = replica.sync(url, state.token, **FAST)
        assert result.mode == "incremental" and result.added == (f"new{step}.example.net",)
        assert result.removed == (f"site{step}.other.org",)
        manifest = store.read_manifest(tmp_path)
        # The sync always writes an overlay; compaction is a step of its own.
        assert manifest["data"] == base and manifest["overlay"].startswith(f"delta-{state.version:012d}-")
        assert result.compaction_due is (step == 2) and replica.compaction_due is (step == 2)
        assert reader.refresh() is True
        if step == 2:
            overlay = manifest["overlay"]
            assert reader.check(f"www.new{step}.example.net").target == f"new{step}.example.net"
            assert replica.compact() is True and replica.compaction_due is False
            manifest = store.read_manifest(tmp_path)
            assert manifest["data"].startswith(f"base-{state.version:012d}-") and manifest["overlay"] is None
            assert manifest["previous_data"] == base and manifest["previous_overlay"] == overlay
            assert manifest["version"] == state.version and manifest["synced_at"] and manifest["server"]
            assert replica.compact() is False  # nothing left to merge
            assert reader.refresh() is False  # the same list, now in the new base
            assert reader._manifest["data"] == manifest["data"]
        assert replica.checksum == checksum_of(state.versions[-1]) and len(replica) == len(state.versions[-1])
        assert reader.targets() == list(reader.iter_targets()) == sorted(state.versions[-1])
        assert reader.check(f"www.new{step}.example.net").target == f"new{step}.example.net"
        assert reader.check(f"www.site{step}.other.org") is None
        reader.verify()
    state.publish(update=[entry("example.com", countries=("FR", "IT"))], remove=["site10.other.org"])
    result = replica.sync(url, state.token, **FAST)
    assert (result.updated, result.removed) == (("example.com",), ("site10.other.org",))
    assert Replica(tmp_path).check("a.example.com").countries == ("FR", "IT")
    assert [e["target"] for e in Replica(tmp_path).entries()] == sorted(state.versions[-1])


def test_a_compaction_that_does_not_reproduce_the_checksum_changes_nothing(published, tmp_path):
    url, state = published
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    state.publish(add=["new.example.net"])
    replica.sync(url, state.token, **FAST)
    before = store.read_manifest(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    overlay = tmp_path / before["overlay"]
    overlay.write_bytes(overlay.read_bytes().replace(b"new.example.net", b"new.example.nez"))  # still sorted
    with pytest.raises(ReplicaDamaged, match="does not reproduce the list's checksum"):
        Replica(tmp_path).compact()
    assert store.read_manifest(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == files
    with pytest.raises(TypeError):
        Replica.from_targets(["example.com"]).compact()


def test_a_target_removed_then_listed_again_and_a_parent_under_a_removed_child(published, tmp_path):
    url, state = published
    state.publish(add=["video.example.com"])
    replica = Replica(tmp_path)
    replica.sync(url, state.token, **FAST)
    state.publish(remove=["video.example.com", "example.com"])
    replica.sync(url, state.token, **FAST)
    assert replica.check("a.video.example.com") is None and replica.check_many(["a.video.example.com"]) == [None]
    state.publish(add=["example.com"])
    result = replica.sync(url, state.token, **FAST)
    assert result.added == ("example.com",)
    assert replica.check("a.video.example.com").target == "example.com"
    assert [m.target for m in replica.check_many(["a.video.example.com", "video.example.com"])] == \
        ["example.com", "example.com"]
