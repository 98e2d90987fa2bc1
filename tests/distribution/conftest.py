"""Signing keys; for the mirror tests, a published tree, nginx serving it, a tampering mirror in front."""

import pytest

from sitealert.distribution import keys
from tests.distribution.mirror_harness import StaticNginx, TamperingMirror


@pytest.fixture
def keys_dir(settings, tmp_path):
    directory = tmp_path / "keys"
    settings.SITEALERT = {**settings.SITEALERT, "KEYS_DIR": directory}
    keys.init(str(directory))
    return directory


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
