"""`sitealert sync --mirror URL --root ROOT_JSON --replica DIR`: one line per sync, the documented
exit statuses, one line for a refusal."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sitealert.cli import main
from sitealert.client import Replica
from sitealert.distribution.publish import publish
from sitealert.feed import builder

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def published(italy, list_targets, tree):
    list_targets(italy, ["films.example", "music.test"])
    publish(str(tree))
    return tree


def test_sync_from_a_mirror_prints_one_line_and_exits_0(published, nginx, root_file, replica_dir, capsys):
    version = builder.current_version()
    assert main(["sync", "--mirror", nginx.url, "--root", str(root_file), "--replica", str(replica_dir)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{replica_dir}: version 0 -> {version}: full download (new replica), 2 added, 0 removed, " \
                  f"0 updated ({out.rsplit('(', 1)[1]}" and err == ""
    assert main(["sync", "--mirror", nginx.url, "--replica", str(replica_dir)]) == 0  # the trust is kept in DIR/tuf
    assert f"version {version}, unchanged" in capsys.readouterr().out


def test_an_attack_exits_1_with_one_line(published, tampering, root_file, replica_dir, capsys):
    tampering.modify(r"/targets/lists/")
    assert main(["sync", "--mirror", tampering.url, "--root", str(root_file), "--replica", str(replica_dir)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"sitealert sync: error: mirror {tampering.url}: lists/") and "modified or truncated" in err


def test_a_failed_mirror_is_reported_and_the_next_one_used(published, nginx, tampering, root_file, replica_dir,
                                                          capsys):
    tampering.drop(r"/targets/lists/")
    assert main(["sync", "--mirror", tampering.url, "--mirror", nginx.url, "--root", str(root_file),
                 "--replica", str(replica_dir)]) == 0
    out, err = capsys.readouterr()
    # A warning, not an error: the sync succeeded (exit 0).
    assert err.startswith(f"sitealert sync: warning: mirror {tampering.url} lacks lists/") and err.count("\n") == 1
    assert err.endswith("; a later mirror served the sync\n")
    assert "full download (new replica)" in out


@pytest.mark.parametrize("arguments, message", [
    (["--mirror", "ftp://example.org/"], "is not an http:// or https:// address"),
    (["--mirror", "http://127.0.0.1:9/"], "needs the root metadata that pins the trust (--root ROOT_JSON)"),
    (["--mirror", "http://127.0.0.1:9/", "--root", "/nonexistent/root.json"], "cannot read the trusted root"),
    (["--url", "http://127.0.0.1:9/", "--token", "t", "--root", "root.json"], "--root pins the trust of a mirror"),
])
def test_mirror_usage_errors_exit_2_and_change_nothing(arguments, message, replica_dir, capsys):
    assert main(["sync", *arguments, "--replica", str(replica_dir)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (replica_dir / "MANIFEST.json").exists()


def test_a_root_file_that_is_not_tuf_root_metadata_exits_2(replica_dir, tmp_path, capsys):
    bogus = tmp_path / "root.json"
    bogus.write_text('{"signed": {"_type": "targets"}}')
    assert main(["sync", "--mirror", "http://127.0.0.1:9/", "--root", str(bogus), "--replica", str(replica_dir)]) == 2
    assert "is not TUF root metadata" in capsys.readouterr().err


def test_url_and_mirror_exclude_each_other(replica_dir, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["sync", "--url", "http://a.example", "--mirror", "http://b.example", "--replica", str(replica_dir)])
    assert exit.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_sync_every_reports_a_refusal_and_keeps_polling(published, italy, list_targets, tree, tampering, root_file,
                                                       replica_dir):
    process = subprocess.Popen(
        [sys.executable, "-m", "sitealert", "sync", "--mirror", tampering.url, "--root", str(root_file),
         "--replica", str(replica_dir), "--every", "0.3"],
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert "full download (new replica)" in process.stdout.readline()
        tampering.drop(r"/targets/deltas/")
        list_targets(italy, ["series.example"])
        publish(str(tree))
        refusal = process.stderr.readline()
        assert refusal.startswith(f"sitealert sync: error: mirror {tampering.url} lacks deltas/"), refusal
        tampering.honest()
        deadline = time.monotonic() + 30
        while "series.example" not in Replica(replica_dir).targets():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
