"""A keys directory, a list with entries, a published tree served over HTTP on loopback, and
python-tuf's own client (tuf.ngclient.Updater) to verify it; for the mirror tests
(test_mirror_*.py), the tree served by Debian's nginx and a tampering mirror in front of it."""

import functools
import gzip
import hashlib
import http.server
import json
import os
import threading
import urllib.error
import urllib.request

import pytest
from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient import FetcherInterface, Updater

from sitealert.distribution import keys
from tests.distribution.mirror_harness import StaticNginx, TamperingMirror


@pytest.fixture
def keys_dir(settings, tmp_path):
    directory = tmp_path / "keys"
    settings.SITEALERT = {**settings.SITEALERT, "KEYS_DIR": directory}
    keys.init(str(directory))
    return directory


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path):
    """served(directory) -> base URL of a stdlib HTTP server on loopback serving `directory`."""
    servers = []

    def _serve(directory):
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


class TokenFetcher(FetcherInterface):
    """python-tuf's fetcher interface over urllib, with the feed token (python-tuf's own sends none)."""

    def __init__(self, token):
        self.token = token

    def _fetch(self, url):
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        try:
            response = urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback in a test
        except urllib.error.HTTPError as exc:
            raise DownloadHTTPError(str(exc), exc.code) from None
        return iter(lambda: response.read(1 << 16), b"")


class Client:
    """A TUF client that pinned `root` (bytes) and keeps its trusted metadata in `directory`."""

    def __init__(self, directory, base_url, root, token=None):
        self.directory, self.base_url, self.token = directory, base_url, token
        os.makedirs(os.path.join(directory, "metadata"), exist_ok=True)
        os.makedirs(os.path.join(directory, "downloads"), exist_ok=True)
        root_path = os.path.join(directory, "metadata", "root.json")
        if not os.path.exists(root_path):
            with open(root_path, "wb") as f:
                f.write(root)

    def updater(self):
        return Updater(os.path.join(self.directory, "metadata"), self.base_url + "metadata/",
                       os.path.join(self.directory, "downloads"), self.base_url + "targets/",
                       fetcher=TokenFetcher(self.token) if self.token else None, bootstrap=None)

    def fetch(self, updater, path):
        info = updater.get_targetinfo(path)
        assert info is not None, path
        with open(updater.download_target(info), "rb") as f:
            return f.read()

    def read_state(self):
        """Refresh, then read state.json and every file it names, verified; (state, {path: bytes})."""
        updater = self.updater()
        updater.refresh()
        state = json.loads(self.fetch(updater, "state.json"))
        files = {path: self.fetch(updater, path) for path in [*state["lists"].values(), *state["deltas"].values()]}
        return state, files


def checksum_of_txt(body):
    return "sha256:" + hashlib.sha256(body).hexdigest()


def unzip(data):
    return gzip.decompress(data)


# -- the mirror tests ---------------------------------------------------------------------------


@pytest.fixture
def tree(keys_dir, tmp_path):
    """The published tree's directory; `publish.publish(str(tree))` writes the current version."""
    return tmp_path / "tree"


@pytest.fixture
def root_file(tree):
    return tree / "metadata" / "1.root.json"


@pytest.fixture
def nginx(tree, tmp_path):
    tree.mkdir(exist_ok=True)
    server = StaticNginx(tmp_path / "nginx", tree)
    yield server
    server.stop()


@pytest.fixture
def tampering(nginx):
    mirror = TamperingMirror(nginx.url)
    yield mirror
    mirror.close()


@pytest.fixture
def replica_dir(tmp_path):
    return tmp_path / "replica"
