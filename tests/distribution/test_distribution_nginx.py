"""The tree served as static files by Debian's nginx with the block of docs/distribution.md: python-tuf's
client verifies it, the list in clear needs the mirror's access token, and the cache rules hold."""

import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sitealert.distribution import publish
from tests.cli.serve_harness import NGINX, run_nginx, stop

from .conftest import Client, checksum_of_txt, unzip

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not Path(NGINX).exists(), reason="needs Debian's nginx (scripts/test installs it)")]

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED_DIR = "/srv/sitealert"
TOKEN = "CHANGE-ME-mirror-access-token"


def documented_block():
    blocks = re.findall(r"```nginx\n(.*?)```", (ROOT / "docs" / "distribution.md").read_text(), re.S)
    [block] = [b for b in blocks if b.startswith("# /etc/nginx/snippets/sitealert-mirror.conf")]
    return block


@pytest.fixture
def nginx(tmp_path):
    """nginx_for(srv) -> base URL of nginx serving <srv>/mirror with the documented block."""
    processes = []

    def _start(srv):
        directory = tmp_path / "nginx"
        directory.mkdir()
        (directory / "mirror.conf").write_text(documented_block().replace(DOCUMENTED_DIR, str(srv)))
        process, port = run_nginx(directory, f"include {directory}/mirror.conf;")
        processes.append(process)
        return f"http://127.0.0.1:{port}/mirror/"

    yield _start
    for process in processes:
        stop(process)


def _get(url, token=None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, b""


def test_nginx_serves_the_tree_as_documented(nginx, tmp_path, italy, list_targets, keys_dir):
    list_targets(italy, ["films.example", "music.test"])
    srv = tmp_path / "srv"
    publish.publish(str(srv / "mirror"))
    # nginx here runs as the publisher; a real one runs as another user: every file is world-readable
    # (the feed cache's are 0640, and were once hard-linked into the tree as they were).
    unreadable = [p for p in (srv / "mirror").rglob("*") if p.is_file() and not p.name.startswith(".")
                  and not p.stat().st_mode & 0o004]
    assert not unreadable
    base = nginx(srv)
    root = (srv / "mirror" / "metadata" / "1.root.json").read_bytes()
    state, files = Client(str(tmp_path / "client"), base, root, token=TOKEN).read_state()
    txt = unzip(files[state["lists"]["txt"]])
    assert txt == b"films.example\nmusic.test\n" and checksum_of_txt(txt) == state["checksum"]

    status, headers, _ = _get(base + "metadata/timestamp.json")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=60"
    status, headers, _ = _get(base + "metadata/1.snapshot.json")
    assert status == 200 and "immutable" in headers["Cache-Control"]
    state_name = next(p.name for p in (srv / "mirror" / "targets").glob("*.state.json"))
    assert _get(base + "targets/" + state_name)[0] == 403  # the list in clear: not without the token
    status, headers, _ = _get(base + "targets/" + state_name, TOKEN)
    assert status == 200 and headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert _get(base + ".lock-publish")[0] == 404
    (srv / "mirror" / "metadata" / ".tmp-abc").write_text("partial")
    assert _get(base + "metadata/.tmp-abc")[0] == 404
