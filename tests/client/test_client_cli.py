"""`sitealert sync` and `sitealert check`: output, input sources and documented exit codes."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sitealert.cli import main
from sitealert.client import Replica, store

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def synced(feed_server, tmp_path):
    url, state = feed_server
    state.publish(add=["example.com", "video.example.org", "android:com.Example.Player"])
    directory = tmp_path / "replica"
    assert main(["sync", "--url", url, "--token", state.token, "--replica", str(directory)]) == 0
    return directory


def test_sync_prints_what_happened_and_exits_0(feed_server, tmp_path, capsys):
    url, state = feed_server
    state.publish(add=["example.com"])
    assert main(["sync", "--url", url, "--token", state.token, "--replica", str(tmp_path)]) == 0
    assert "version 0 -> 1: full download (new replica), 1 added" in capsys.readouterr().out
    assert main(["sync", "--url", url, "--token", state.token, "--replica", str(tmp_path), "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_sync_takes_the_token_from_the_environment(feed_server, tmp_path, monkeypatch, capsys):
    url, state = feed_server
    monkeypatch.setenv("SITEALERT_TOKEN", state.token)
    assert main(["sync", "--url", url, "--replica", str(tmp_path)]) == 0
    monkeypatch.delenv("SITEALERT_TOKEN")
    assert main(["sync", "--url", url, "--replica", str(tmp_path)]) == 2
    assert "token is required" in capsys.readouterr().err


def test_sync_failures_exit_1_with_the_reason(feed_server, tmp_path, capsys):
    url, state = feed_server
    assert main(["sync", "--url", url, "--token", "nope", "--replica", str(tmp_path)]) == 1
    assert "refused the token" in capsys.readouterr().err
    assert main(["sync", "--url", "ftp://x", "--token", "t", "--replica", str(tmp_path)]) == 2


def test_sync_writes_the_sync_lag_for_prometheus(feed_server, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    url, state = feed_server
    state.publish(add=["example.com", "video.example.org"])
    metrics = tmp_path / "sitealert.prom"

    def read():
        return {s.name: s.value for f in text_string_to_metric_families(metrics.read_text()) for s in f.samples}

    before = time.time()
    assert main(["sync", "--url", url, "--token", state.token, "--replica", str(tmp_path / "r"), "-q",
                 "--metrics-file", str(metrics)]) == 0
    first = read()
    assert first["sitealert_replica_version"] == Replica(tmp_path / "r").version > 0
    assert first["sitealert_replica_sync_success_timestamp_seconds"] == \
        first["sitealert_replica_sync_attempt_timestamp_seconds"] >= int(before)
    assert first["sitealert_replica_sync_failures_total"] == 0
    assert first["sitealert_replica_sync_duration_seconds"] >= 0

    assert main(["sync", "--url", url, "--token", "revoked", "--replica", str(tmp_path / "r"), "-q",
                 "--metrics-file", str(metrics)]) == 1
    failed = read()  # a new process: it has not succeeded yet, and the replica keeps its version
    assert failed["sitealert_replica_sync_failures_total"] == 1
    assert failed["sitealert_replica_sync_success_timestamp_seconds"] == 0
    assert failed["sitealert_replica_version"] == first["sitealert_replica_version"]


def test_an_unwritable_metrics_file_is_reported_and_the_sync_still_succeeds(feed_server, tmp_path, capsys):
    url, state = feed_server
    state.publish(add=["example.com"])
    assert main(["sync", "--url", url, "--token", state.token, "--replica", str(tmp_path / "r"), "-q",
                 "--metrics-file", str(tmp_path / "missing" / "x.prom")]) == 0
    assert "cannot write the metrics file" in capsys.readouterr().err


def test_check_arguments_in_text_and_exit_codes(synced, capsys):
    assert main(["check", "www.example.com", "example.net", "a b", "--replica", str(synced)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "www.example.com: listed (example.com; countries FR; categories streaming-video)",
        "example.net: not listed",
        "a b: invalid ('a b' contains a space or a line break; enter one domain name or address per line.)",
    ]
    assert main(["check", "example.net", "--replica", str(synced)]) == 0


def test_check_json_lines(synced, capsys):
    assert main(["check", "https://cdn.video.example.org/x", "com", "--replica", str(synced), "--json"]) == 1
    first, second = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert first == {"item": "https://cdn.video.example.org/x", "listed": True, "matched": "video.example.org",
                     "countries": ["FR"], "categories": ["streaming-video"]}
    assert second["listed"] is False and second["matched"] is None and "public suffix" in second["error"]


def test_check_reads_a_file_and_standard_input(synced, tmp_path, monkeypatch, capsys):
    items = tmp_path / "items.txt"
    items.write_text("\ufeff# exported from the ad server\nexample.org\n\nhttps://play.google.com/store/apps/"
                     "details?id=com.Example.Player\r\n", encoding="utf-8")
    assert main(["check", "-f", str(items), "--replica", str(synced), "--json"]) == 1
    assert [json.loads(line)["listed"] for line in capsys.readouterr().out.splitlines()] == [False, True]

    monkeypatch.setattr(sys, "stdin", io.StringIO("nothing.example\nexample.net\n"))
    assert main(["check", "--replica", str(synced)]) == 0
    assert capsys.readouterr().out.count("not listed") == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO("www.example.com\n"))
    assert main(["check", "-f", "-", "--replica", str(synced)]) == 1


def test_check_without_a_usable_replica_exits_2(synced, tmp_path, capsys):
    assert main(["check", "example.com", "--replica", str(tmp_path / "never-synced")]) == 2
    assert "run 'sitealert sync" in capsys.readouterr().err
    manifest = store.read_manifest(synced)
    (synced / manifest["data"]).write_bytes(b"garbage")
    assert main(["check", "example.com", "--replica", str(synced)]) == 2
    assert "damaged" in capsys.readouterr().err
    assert main(["check", "-f", str(tmp_path / "missing.txt"), "--replica", str(tmp_path)]) == 2


def test_sync_every_keeps_the_replica_current_and_stops_on_sigterm(feed_server, tmp_path):
    url, state = feed_server
    state.publish(add=["example.com"])
    env = {**os.environ, "PYTHONPATH": str(REPO), "SITEALERT_TOKEN": state.token}
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from sitealert.cli import main; sys.exit(main())",
         "sync", "--url", url, "--replica", str(tmp_path), "--every", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "full download" in process.stdout.readline()
        state.publish(add=["later.example.net"])
        deadline = time.monotonic() + 30
        while "later.example.net" not in Replica(tmp_path).targets():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def test_sync_compacts_after_reporting_the_sync_unless_told_not_to(feed_server, tmp_path, monkeypatch, capsys):
    url, state = feed_server
    state.publish(add=[f"site{i}.example.com" for i in range(20)])
    command = ["sync", "--url", url, "--token", state.token, "--replica", str(tmp_path)]
    assert main(command) == 0
    base = store.read_manifest(tmp_path)["data"]
    monkeypatch.setattr(store, "COMPACT_MINIMUM", 1)
    monkeypatch.setattr(store, "COMPACT_FRACTION", 10**9)
    state.publish(add=["new.example.net"], remove=["site1.example.com"])
    assert main([*command, "--no-compact"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "incremental, 1 added, 1 removed" in lines[1]
    assert store.read_manifest(tmp_path)["overlay"] and Replica(tmp_path).compaction_due
    state.publish(add=["newer.example.net"])
    assert main(command) == 0
    sync_line, compact_line = capsys.readouterr().out.splitlines()
    assert "incremental, 1 added" in sync_line
    assert "compacted the overlay into a new base, version 3" in compact_line
    manifest = store.read_manifest(tmp_path)
    assert manifest["overlay"] is None and manifest["data"] != base and manifest["version"] == 3
    assert sorted(Replica(tmp_path).targets()) == sorted(state.versions[-1])
