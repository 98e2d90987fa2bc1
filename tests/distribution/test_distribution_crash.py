"""`sitealert publish` killed (SIGKILL) at seeded random moments always leaves a tree that a client
holding the previous trusted metadata verifies, at the old version or the new; the next publish
completes it and leaves nothing behind."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import migrated

from .conftest import Client, checksum_of_txt, unzip

pytestmark = [pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"), pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PUBLISH = """
import os, sys
import django
django.setup()
from sitealert.cli import main
print("publishing", flush=True)
sys.exit(main(["publish", sys.argv[1]]))
"""
KILLS = 8


class Installation:
    """A SQLite installation in a data directory, driven by the `sitealert` command."""

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self.env = {k: v for k, v in os.environ.items() if k != "SITEALERT_DATABASE_URL"}
        self.env.update(SITEALERT_DATA_DIR=str(self.data_dir), SITEALERT_SECRET_KEY="test-publish-crash",
                        PYTHONPATH=str(REPO), DJANGO_SETTINGS_MODULE="sitealert.settings")
        migrated.sqlite(self.data_dir)
        self.org = self.run("org", "create", "--kind", "contributor", "--name", "Italy", "--country", "IT").split()[-1]
        self.run("keys", "init")

    def run(self, *args):
        done = subprocess.run([sys.executable, "-m", "sitealert", *args], env=self.env, cwd=self.data_dir.parent,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def list_targets(self, names):
        path = self.data_dir.parent / "import.csv"
        path.write_text("target,category,reference,note\n" + "".join(f"{n},cyberlocker,case-1,\n" for n in names))
        self.run("import", str(path), "--org", self.org)

    def start_publish(self, tree):
        return subprocess.Popen([sys.executable, "-c", PUBLISH, str(tree)], env=self.env, cwd=self.data_dir.parent,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _verified(client_dir, base_url, root):
    """(state, txt list) read and verified by python-tuf from a copy of the client's trusted metadata."""
    state, files = Client(client_dir, base_url, root).read_state()
    txt = unzip(files[state["lists"]["txt"]])
    assert checksum_of_txt(txt) == state["checksum"]
    for path in state["deltas"].values():
        assert json.loads(unzip(files[path]))["checksum"] == state["checksum"]
    return state, txt


def test_publish_killed_at_any_moment_leaves_a_tree_clients_verify(tmp_path, served):
    installation = Installation(tmp_path / "var")
    installation.list_targets([f"site{i}.example" for i in range(3000)])
    tree = tmp_path / "tree"
    installation.run("publish", str(tree))
    root = (tree / "metadata" / "1.root.json").read_bytes()
    trusted = tmp_path / "trusted"
    old_state, _ = _verified(str(trusted), served(tree), root)
    installation.list_targets([f"new{i}.test" for i in range(500)])
    pristine = tmp_path / "pristine"
    shutil.copytree(tree, pristine)

    # How long the publish itself takes, once the documents of the new version are in the feed cache.
    process = installation.start_publish(tree)
    assert process.stdout.readline() == "publishing\n"
    started = time.monotonic()
    assert process.wait(timeout=300) == 0, process.stderr.read()
    duration = time.monotonic() - started
    new_state, _ = _verified(str(tmp_path / "check"), served(tree), root)
    assert new_state["version"] > old_state["version"] and new_state["count"] == 3500

    rng = random.Random(15)
    seen = set()
    for attempt in range(KILLS):
        crashed = tmp_path / f"crashed-{attempt}"
        shutil.copytree(pristine, crashed)
        process = installation.start_publish(crashed)
        assert process.stdout.readline() == "publishing\n"
        time.sleep(rng.uniform(0, duration * 1.1))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        client = tmp_path / f"client-{attempt}"
        shutil.copytree(trusted, client)  # a client that holds the old version's trusted metadata
        url = served(crashed)
        state, _ = _verified(str(client), url, root)
        assert state["version"] in (old_state["version"], new_state["version"])
        seen.add(state["version"])
        _verified(str(tmp_path / f"fresh-{attempt}"), url, root)  # and a client that pinned only the root
        installation.run("publish", str(crashed))  # the next publish completes it
        state, _ = _verified(str(client), url, root)
        assert state["version"] == new_state["version"]
        assert not list(crashed.rglob(".tmp-*"))
        shutil.rmtree(crashed)
    assert old_state["version"] in seen  # some kills did land before the new timestamp
