"""GET /api/v1/mirror/metadata/<file> and /api/v1/mirror/targets/<path>: the published tree, served
by the installation itself; metadata and hashes/ public, the list in clear only with a feed token."""

import gzip
import json

import pytest
from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient import Updater

from sitealert.distribution import publish

from .conftest import TokenFetcher

pytestmark = pytest.mark.django_db


@pytest.fixture
def mirror(settings, tmp_path, keys_dir, italy, list_targets):
    list_targets(italy, ["films.example", "music.test"])
    tree = tmp_path / "mirror"
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_DIR": tree}
    publish.publish(str(tree))
    return tree


def _state_target(tree):
    timestamp = json.loads((tree / "metadata" / "timestamp.json").read_text())
    snapshot_version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
    snapshot = json.loads((tree / "metadata" / f"{snapshot_version}.snapshot.json").read_text())
    targets_version = snapshot["signed"]["meta"]["targets.json"]["version"]
    targets = json.loads((tree / "metadata" / f"{targets_version}.targets.json").read_text())["signed"]["targets"]
    return targets


def _url(path, sha256):
    directory, _, name = path.rpartition("/")
    return f"/api/v1/mirror/targets/{directory + '/' if directory else ''}{sha256}.{name}"


def test_metadata_is_public_and_the_list_needs_a_feed_token(client, mirror, adco_token, italy_token):
    response = client.get("/api/v1/mirror/metadata/timestamp.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert b"".join(response.streaming_content) == (mirror / "metadata" / "timestamp.json").read_bytes()
    assert response["Cache-Control"] == "public, max-age=60"
    response = client.get("/api/v1/mirror/metadata/1.root.json")
    assert response.status_code == 200 and "immutable" in response["Cache-Control"]
    targets = _state_target(mirror)
    for path in ["state.json", *[p for p in targets if p.startswith("lists/")]]:
        url = _url(path, targets[path]["hashes"]["sha256"])
        assert client.get(url).status_code == 401
        assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {italy_token}").status_code == 403  # contributor scope
        gzipped = path.endswith(".gz")
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {adco_token}",
                              HTTP_ACCEPT_ENCODING="gzip" if gzipped else "identity")
        assert response.status_code == 200, path
        if gzipped:  # the .gz file as it is, not compressed again
            assert response["Content-Type"] == "application/gzip" and "Content-Encoding" not in response
        assert response["Cache-Control"] == "private, max-age=31536000, immutable"
        location = mirror / "targets" / url.split("/api/v1/mirror/targets/")[1]
        assert b"".join(response.streaming_content) == location.read_bytes()


@pytest.mark.parametrize("path", [
    "../metadata/timestamp.json", "lists/../../../etc/passwd", ".lock-publish", "lists/.tmp-1", "a//b",
    "%2e%2e/secret", "lists/x\\y", "",
])
def test_paths_outside_the_tree_are_refused(client, mirror, adco_token, path):
    response = client.get(f"/api/v1/mirror/targets/{path}", HTTP_AUTHORIZATION=f"Bearer {adco_token}")
    assert response.status_code in (400, 404)
    assert response.json()["error"] in ("invalid_path", "not_found")


def test_metadata_names_are_only_those_of_the_tree(client, mirror):
    for name in ["../../keys/root.key", "root.key", "x.json", ".lock-publish", "0.root.json"]:
        response = client.get(f"/api/v1/mirror/metadata/{name}")
        assert response.status_code in (400, 404), name
    assert client.get("/api/v1/mirror/metadata/99.snapshot.json").json()["error"] == "not_found"
    assert client.get("/api/v1/mirror/metadata/root.key").json()["error"] == "invalid_path"


def test_without_a_mirror_dir_the_routes_say_so(client, settings):
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_DIR": None}
    response = client.get("/api/v1/mirror/metadata/timestamp.json")
    assert response.status_code == 404 and response.json()["error"] == "mirror_disabled"


def test_public_files_are_rate_limited_per_address(client, mirror, settings):
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_PUBLIC_RATE": 3}
    statuses = [client.get("/api/v1/mirror/metadata/timestamp.json").status_code for _ in range(5)]
    assert statuses[:3] == [200] * 3 and statuses[3] == 429


def test_the_proxy_sends_the_file_when_told_to(client, mirror, settings, adco_token):
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_ACCEL_REDIRECT": "/_sitealert/mirror/"}
    response = client.get("/api/v1/mirror/metadata/timestamp.json")
    assert response["X-Accel-Redirect"] == "/_sitealert/mirror/metadata/timestamp.json"
    assert response.content == b""


@pytest.mark.django_db(transaction=True)
def test_a_tuf_client_verifies_the_server_itself(live_server, mirror, adco_token, tmp_path):
    """The same code as for a mirror: python-tuf's Updater against /api/v1/mirror/ with the token."""
    client_dir = tmp_path / "client"
    (client_dir / "metadata").mkdir(parents=True)
    (client_dir / "downloads").mkdir()
    (client_dir / "metadata" / "root.json").write_bytes((mirror / "metadata" / "1.root.json").read_bytes())
    base = f"{live_server.url}/api/v1/mirror/"
    updater = Updater(str(client_dir / "metadata"), base + "metadata/", str(client_dir / "downloads"),
                      base + "targets/", fetcher=TokenFetcher(adco_token), bootstrap=None)
    updater.refresh()
    state = json.loads(open(updater.download_target(updater.get_targetinfo("state.json")), "rb").read())
    txt = open(updater.download_target(updater.get_targetinfo(state["lists"]["txt"])), "rb").read()
    assert gzip.decompress(txt) == b"films.example\nmusic.test\n"
    updater = Updater(str(client_dir / "metadata"), base + "metadata/", str(client_dir / "downloads2"),
                      base + "targets/", fetcher=TokenFetcher("sa_wrong"), bootstrap=None)
    updater.refresh()  # metadata: public
    with pytest.raises(DownloadHTTPError):
        updater.download_target(updater.get_targetinfo(state["lists"]["csv"]))
