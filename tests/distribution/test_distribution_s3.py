"""Upload of a published tree to S3-compatible storage, against a real S3 server on loopback.

The server is moto's ThreadedMotoServer (real HTTP, path-style addresses). A small recording proxy
in front of it notes the order of the PUTs and can fail every request from the n-th PUT on, as a
network or a storage service failing midway would. Readers are python-tuf's own client
(tuf.ngclient.Updater) reading the bucket over HTTP, pinned to the tree's first root.
"""

import http.client
import json
import shutil
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from moto.server import ThreadedMotoServer
from tuf.ngclient import Updater

from sitealert import settings as production_settings
from sitealert.cli import main
from sitealert.client import Replica
from sitealert.core.conf import ConfigurationError
from sitealert.distribution import publish, s3
from sitealert.distribution.s3 import S3Error, upload_tree
from sitealert.feed import builder
from sitealert.listings.services import remove_listings

from .conftest import Client, checksum_of_txt, unzip
from .s3_harness import TreeWriter, moto_endpoint, tree_keys_of

BUCKET = "mirror"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


@pytest.fixture(scope="module")
def moto_server():
    url, server = moto_endpoint()
    yield url
    server.stop()


@pytest.fixture
def endpoint(moto_server):
    """The server with an empty bucket named BUCKET."""
    client = s3.s3_client(moto_server, "us-east-1")
    for bucket in client.list_buckets()["Buckets"]:
        delete_all(client, bucket["Name"])
        client.delete_bucket(Bucket=bucket["Name"])
    client.create_bucket(Bucket=BUCKET)
    # Readers fetch without signing, as through the CDN of docs/distribution.md; here they stand for
    # authorized parties, so every object is readable (a real bucket keeps the list in clear private).
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}]}))
    return moto_server


def first_tree(tmp_path):
    tree = TreeWriter(tmp_path / "tree")
    next_version(tree)
    return tree


def next_version(tree):
    v = tree.version + 1
    tree.publish({"state.json": b'{"version": %d}' % v, f"lists/{v}.txt.gz": b"list %d" % v,
                  f"deltas/{v - 1}-{v}.json.gz": b"delta %d" % v}, {f"hashes/{v}/ab": b"shard ab %d" % v})


# --- readers -------------------------------------------------------------------------------------

def read_bucket(endpoint, tmp_path, trusted, name="reader", prefix=""):
    """What a python-tuf client that trusts `trusted` (a root file or a reader directory it kept)
    finds in the bucket: the state.json and hashes shard it downloads, verified."""
    metadata_dir = tmp_path / name / "metadata"
    if not metadata_dir.exists():
        metadata_dir.mkdir(parents=True)
        (metadata_dir / "root.json").write_bytes(Path(trusted).read_bytes())
    base = f"{endpoint}/{BUCKET}/{prefix}"
    updater = Updater(str(metadata_dir), base + "metadata/", str(tmp_path / name / "targets"), base + "targets/",
                      bootstrap=None)  # the root it trusts is in metadata_dir, as a client keeps it
    updater.refresh()
    state = updater.get_targetinfo("state.json")
    shards = [f"hashes/{v}/ab" for v in range(1, 5) if updater.get_targetinfo(f"hashes/{v}/ab")]
    with open(updater.download_target(state), "rb") as f:
        body = f.read()
    for path in shards:
        updater.download_target(updater.get_targetinfo(path))
    return body, shards


def objects_in(client, bucket):
    """Every object of `bucket` (a listing answers 1,000 at most: a tree with the private lookup's
    4,096 shards a version takes several)."""
    return [o for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])]


def delete_all(client, bucket):
    objects = objects_in(client, bucket)
    for start in range(0, len(objects), 1000):
        batch = [{"Key": o["Key"]} for o in objects[start:start + 1000]]
        client.delete_objects(Bucket=bucket, Delete={"Objects": batch})


def keys_in_bucket(endpoint):
    client = s3.s3_client(endpoint, "us-east-1")
    return sorted(o["Key"] for o in objects_in(client, BUCKET))


def empty_bucket(endpoint):
    delete_all(s3.s3_client(endpoint, "us-east-1"), BUCKET)


# --- a proxy that records and fails -------------------------------------------------------------

@dataclass
class Proxy:
    url: str
    writes: list = field(default_factory=list)  # (method, path) of every PUT, POST and DELETE
    fail_from_write: int | None = None  # 1-based: from this write on, every request fails
    put_headers: list = field(default_factory=list)  # the names of each PUT's headers, lower case

    def puts(self):
        return [path.removeprefix(f"/{BUCKET}/") for method, path in self.writes if method == "PUT"]


@pytest.fixture
def proxy(endpoint):
    upstream = urlsplit(endpoint)
    state = Proxy("")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            with lock:
                if self.command in ("PUT", "POST", "DELETE"):
                    state.writes.append((self.command, self.path.split("?")[0]))
                if self.command == "PUT":
                    state.put_headers.append({name.lower() for name in self.headers})
                failing = state.fail_from_write is not None and len(state.writes) >= state.fail_from_write
            if failing:
                reply = b"<Error><Code>InternalError</Code><Message>injected failure</Message></Error>"
                self.send_response(500)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                return
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in ("connection", "expect"):
                    connection.putheader(name, value)
            connection.endheaders(body)
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            connection.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


def through(proxy, attempts=1):
    """A client that sends every request through the proxy and does not retry a failed one."""
    return s3.s3_client(proxy.url, "us-east-1", attempts=attempts)


# --- tests ---------------------------------------------------------------------------------------

def test_upload_mirrors_the_tree_and_readers_verify_it(endpoint, tmp_path):
    tree = first_tree(tmp_path)
    report = upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint, region="us-east-1")

    assert keys_in_bucket(endpoint) == tree_keys_of(tree.directory)
    assert sorted(report.uploaded) == tree_keys_of(tree.directory) and report.deleted == [] and report.unchanged == 0
    assert read_bucket(endpoint, tmp_path, tree.directory / "metadata/1.root.json") == (
        b'{"version": 1}', ["hashes/1/ab"])


def test_objects_carry_their_type_and_caching(endpoint, tmp_path):
    tree = first_tree(tmp_path)
    upload_tree(tree.directory, f"s3://{BUCKET}/feeds/eu", endpoint_url=endpoint)
    client = s3.s3_client(endpoint, "us-east-1")
    heads = {o["Key"]: client.head_object(Bucket=BUCKET, Key=o["Key"])
             for o in objects_in(client, BUCKET)}
    assert all(key.startswith("feeds/eu/") for key in heads)

    timestamp = heads["feeds/eu/metadata/timestamp.json"]
    assert (timestamp["ContentType"], timestamp["CacheControl"]) == ("application/json", s3.IN_PLACE)
    assert heads["feeds/eu/metadata/1.snapshot.json"]["CacheControl"] == s3.IMMUTABLE
    assert heads["feeds/eu/metadata/root.json"]["CacheControl"] == s3.IN_PLACE
    [gz] = [head for key, head in heads.items() if key.endswith(".txt.gz")]
    assert (gz["ContentType"], gz["CacheControl"], gz.get("ContentEncoding")) == (
        "application/gzip", "private, max-age=31536000, immutable", None)
    [shard] = [head for key, head in heads.items() if "/targets/hashes/" in key]
    assert shard["CacheControl"] == s3.IMMUTABLE
    assert read_bucket(endpoint, tmp_path, tree.directory / "metadata/root.json", prefix="feeds/eu/")[0] == \
        b'{"version": 1}'


def test_uploading_again_sends_nothing(endpoint, proxy, tmp_path):
    tree = first_tree(tmp_path)
    upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)

    report = upload_tree(tree.directory, f"s3://{BUCKET}", client=through(proxy))

    assert (report.uploaded, report.deleted, report.unchanged) == ([], [], len(tree_keys_of(tree.directory)))
    assert proxy.writes == []


def test_a_new_version_sends_only_new_objects_timestamp_last_then_deletes(endpoint, proxy, tmp_path):
    tree = first_tree(tmp_path)
    upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)
    first = set(tree_keys_of(tree.directory))
    next_version(tree)
    next_version(tree)  # version 3: version 1's files are pruned from DIR

    report = upload_tree(tree.directory, f"s3://{BUCKET}", client=through(proxy))

    now = set(tree_keys_of(tree.directory))
    assert set(report.uploaded) == now - first | {"metadata/timestamp.json"}
    assert set(report.deleted) == first - now and report.deleted
    assert keys_in_bucket(endpoint) == sorted(now)
    sent = proxy.puts()
    targets = [key for key in report.uploaded if key.startswith("targets/")]
    assert len(targets) == 8 and sorted(sent[:len(targets)]) == sorted(targets)  # sent in parallel
    assert sent[len(targets):] == ["metadata/2.hashes.json", "metadata/3.hashes.json", "metadata/2.targets.json",
                                   "metadata/3.targets.json", "metadata/2.snapshot.json",
                                   "metadata/3.snapshot.json", "metadata/timestamp.json"]
    assert proxy.writes[-1] == ("POST", f"/{BUCKET}")  # the deletions, after the timestamp
    # Each object's MD5 for the service to check, and none of the checksum headers that several
    # S3-compatible services refuse.
    assert all("content-md5" in names and not any(name.startswith(("x-amz-checksum-", "x-amz-sdk-checksum"))
                                                  for name in names) for names in proxy.put_headers)
    assert read_bucket(endpoint, tmp_path, tree.directory / "metadata/1.root.json") == (
        b'{"version": 3}', ["hashes/3/ab"])


def test_new_roots_go_up_just_before_the_timestamp():
    names = ["metadata/timestamp.json", "metadata/root.json", "metadata/3.root.json", "metadata/2.root.json",
             "metadata/4.snapshot.json", "metadata/4.targets.json", "metadata/4.hashes.json",
             "targets/lists/1/abc.4.txt.gz"]
    assert sorted(names, key=lambda name: (s3.upload_step(name), name)) == [
        "targets/lists/1/abc.4.txt.gz", "metadata/4.hashes.json", "metadata/4.targets.json",
        "metadata/4.snapshot.json", "metadata/2.root.json", "metadata/3.root.json", "metadata/root.json",
        "metadata/timestamp.json"]


@pytest.mark.slow
def test_an_upload_failing_at_any_request_leaves_readers_a_valid_tree(endpoint, proxy, tmp_path):
    tree = first_tree(tmp_path)
    upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)
    first = shutil.copytree(tree.directory, tmp_path / "first")
    root = first / "metadata/1.root.json"
    read_bucket(endpoint, tmp_path, root, name="holder")  # a reader that holds version 1 throughout
    next_version(tree)
    next_version(tree)
    upload_tree(tree.directory, f"s3://{BUCKET}", client=through(proxy))
    writes = len(proxy.writes)
    assert writes == 16  # 15 objects, then one request for the deletions

    for failing in range(1, writes + 1):
        empty_bucket(endpoint)
        upload_tree(first, f"s3://{BUCKET}", endpoint_url=endpoint)  # the bucket back at version 1
        read_bucket(endpoint, tmp_path, root, name=f"holder-{failing}")
        proxy.writes.clear()
        proxy.fail_from_write = failing

        with pytest.raises(S3Error, match="S3 answered InternalError: injected failure") as refused:
            upload_tree(tree.directory, f"s3://{BUCKET}", client=through(proxy))

        proxy.fail_from_write = None
        if failing < writes:
            assert f"the bucket still serves its previous tree; {failing - 1} objects were uploaded" in \
                str(refused.value)
            assert read_bucket(endpoint, tmp_path, root, name=f"fresh-{failing}")[0] == b'{"version": 1}'
            assert read_bucket(endpoint, tmp_path, root, name=f"holder-{failing}")[0] == b'{"version": 1}'
        else:
            assert "the new tree is complete; some objects it no longer needs were not deleted" in str(refused.value)
            assert read_bucket(endpoint, tmp_path, root, name=f"holder-{failing}")[0] == b'{"version": 3}'
        upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)  # finishes what was interrupted
        assert keys_in_bucket(endpoint) == tree_keys_of(tree.directory)
    assert read_bucket(endpoint, tmp_path, root, name="holder")[0] == b'{"version": 3}'


def test_a_server_that_goes_away_midway_leaves_the_previous_tree(endpoint, tmp_path):
    tree = first_tree(tmp_path)
    upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)
    next_version(tree)
    stopped = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    stopped.start()
    url = "http://{}:{}".format(*stopped.get_host_and_port())
    stopped.stop()

    with pytest.raises(S3Error, match="cannot reach http://127.0.0.1:") as refused:
        upload_tree(tree.directory, f"s3://{BUCKET}", client=s3.s3_client(url, attempts=1))

    assert "the bucket still serves its previous tree" in str(refused.value)
    assert read_bucket(endpoint, tmp_path, tree.directory / "metadata/1.root.json")[0] == b'{"version": 1}'


def test_an_older_tree_never_replaces_a_newer_one_in_the_bucket(endpoint, proxy, tmp_path):
    tree = first_tree(tmp_path)
    first = shutil.copytree(tree.directory, tmp_path / "first")
    next_version(tree)
    upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)

    with pytest.raises(S3Error, match=r"the bucket's timestamp.json is version 2, newer than the directory's \(1\)"):
        upload_tree(first, f"s3://{BUCKET}", client=through(proxy))

    assert [method for method, _path in proxy.writes] == []
    assert read_bucket(endpoint, tmp_path, first / "metadata/1.root.json")[0] == b'{"version": 2}'


@pytest.mark.parametrize("url, reason", [
    ("https://bucket/prefix", "is not an S3 URL"),
    ("s3://", "is not an S3 URL"),
    ("s3://Bad_Bucket/x", "is not a valid bucket name"),
    ("s3://bucket/a/../b", "'..' segments"),
    ("s3://key:secret@bucket/x", "only a bucket and a prefix"),
])
def test_a_bad_url_is_refused_before_any_request(tmp_path, url, reason):
    tree = first_tree(tmp_path)
    with pytest.raises(S3Error, match=reason):
        upload_tree(tree.directory, url, endpoint_url="http://127.0.0.1:9")


def test_a_directory_that_is_not_a_published_tree_is_refused(endpoint, tmp_path):
    with pytest.raises(S3Error, match="is not a published tree .no metadata/timestamp.json."):
        upload_tree(tmp_path, f"s3://{BUCKET}", endpoint_url=endpoint)
    tree = first_tree(tmp_path)
    [listed] = (tree.directory / "targets/lists").iterdir()
    listed.unlink()
    with pytest.raises(S3Error, match=r"not a complete published tree: its metadata names targets/lists/\w+\.1\.txt"):
        upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)
    assert keys_in_bucket(endpoint) == []


def test_a_missing_bucket_is_named(endpoint, tmp_path):
    tree = first_tree(tmp_path)
    with pytest.raises(S3Error, match=f"the bucket 'absent' does not exist at {endpoint}"):
        upload_tree(tree.directory, "s3://absent/x", endpoint_url=endpoint)


def test_bad_or_missing_credentials_are_refused_clearly(endpoint, tmp_path, monkeypatch):
    tree = first_tree(tmp_path)
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    iam.create_user(UserName="publisher")
    iam.put_user_policy(UserName="publisher", PolicyName="mirror", PolicyDocument=(
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'))
    key = iam.create_access_key(UserName="publisher")["AccessKey"]
    _require_authentication(endpoint, True)
    try:
        with pytest.raises(S3Error, match=r"S3 refused the credentials \(InvalidAccessKeyId"):
            upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not the secret")
        with pytest.raises(S3Error, match=r"S3 refused the credentials \(SignatureDoesNotMatch"):
            upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        assert upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint).uploaded
    finally:
        _require_authentication(endpoint, False)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(S3Error, match="no S3 credentials: set AWS_ACCESS_KEY_ID"):
        upload_tree(tree.directory, f"s3://{BUCKET}", endpoint_url=endpoint)


def _require_authentication(endpoint, required):
    """moto checks signatures and IAM permissions only when told to (its /moto-api/reset-auth)."""
    connection = http.client.HTTPConnection(*urlsplit(endpoint).netloc.split(":"))
    connection.request("POST", "/moto-api/reset-auth", body=b"0" if required else b"inf")
    assert connection.getresponse().status == 200
    connection.close()


def test_the_settings_refuse_a_bad_url_at_start_up(monkeypatch):
    monkeypatch.setenv("SITEALERT_MIRROR_S3_URL", " s3://mirror/feeds/ ")
    monkeypatch.setenv("SITEALERT_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    assert production_settings.envbucketurl("MIRROR_S3_URL") == "s3://mirror/feeds/"
    assert production_settings.envhttpurl("S3_ENDPOINT_URL") == "http://127.0.0.1:9000"
    monkeypatch.setenv("SITEALERT_MIRROR_S3_URL", "mirror/feeds")
    with pytest.raises(ConfigurationError, match="SITEALERT_MIRROR_S3_URL: 'mirror/feeds' is not an S3 URL"):
        production_settings.envbucketurl("MIRROR_S3_URL")
    monkeypatch.setenv("SITEALERT_S3_ENDPOINT_URL", "127.0.0.1:9000")
    with pytest.raises(ConfigurationError, match="SITEALERT_S3_ENDPOINT_URL='127.0.0.1:9000' must be an http"):
        production_settings.envhttpurl("S3_ENDPOINT_URL")


# --- `sitealert publish DIR --s3 URL` and the worker, on a real list ------------------------------

def bucket_reader(endpoint, tmp_path, tree, prefix, name="bucket-client"):
    """python-tuf's client reading the bucket, pinned to the tree's first root."""
    return Client(str(tmp_path / name), f"{endpoint}/{BUCKET}/{prefix}", (tree / "metadata/1.root.json").read_bytes())


@pytest.mark.django_db
def test_publish_with_s3_uploads_what_clients_verify(italy, list_targets, keys_dir, endpoint, proxy, settings,
                                                     tmp_path, capsys):
    settings.SITEALERT = {**settings.SITEALERT, "S3_ENDPOINT_URL": proxy.url, "S3_REGION": "us-east-1"}
    list_targets(italy, ["films.example", "music.test"])
    tree = tmp_path / "tree"

    assert main(["publish", str(tree), "--s3", f"s3://{BUCKET}/feeds"]) == 0

    assert f"uploaded to s3://{BUCKET}/feeds: {len(tree_keys_of(tree))} objects uploaded" in capsys.readouterr().out
    assert proxy.puts()[-1] == "feeds/metadata/timestamp.json"
    client = bucket_reader(endpoint, tmp_path, tree, "feeds/")
    state, files = client.read_state()
    assert (state["version"], state["count"]) == (builder.cached_feed("txt")[0], 2)
    assert unzip(files[state["lists"]["txt"]]) == builder.cached_feed("txt")[2]

    list_targets(italy, ["games.example"])
    proxy.writes.clear()
    assert main(["publish", str(tree), "--s3", f"s3://{BUCKET}/feeds"]) == 0

    sent = proxy.puts()
    assert sent[-1] == "feeds/metadata/timestamp.json"
    assert all(not key.startswith("feeds/targets/") or (tree / key.removeprefix("feeds/")).exists() for key in sent)
    assert len(sent) < len(tree_keys_of(tree))  # the previous version's files were not sent again
    assert keys_in_bucket(endpoint) == ["feeds/" + key for key in tree_keys_of(tree)]
    state, files = client.read_state()
    assert (state["version"], state["count"]) == (builder.cached_feed("txt")[0], 3)
    assert checksum_of_txt(unzip(files[state["lists"]["txt"]])) == state["checksum"]


@pytest.mark.django_db
def test_publish_refuses_a_bad_s3_url_before_writing(italy, list_targets, keys_dir, tmp_path, capsys):
    list_targets(italy, ["films.example"])
    assert main(["publish", str(tmp_path / "tree"), "--s3", "https://mirror/feeds"]) == 2
    assert "--s3: 'https://mirror/feeds' is not an S3 URL" in capsys.readouterr().err
    assert not (tmp_path / "tree").exists()


@pytest.mark.django_db
def test_publish_without_boto3_says_what_to_install_before_writing(italy, list_targets, keys_dir, tmp_path, capsys,
                                                                   monkeypatch):
    list_targets(italy, ["films.example"])
    monkeypatch.setitem(sys.modules, "boto3", None)  # as when the s3 extra is not installed
    assert main(["publish", str(tmp_path / "tree"), "--s3", f"s3://{BUCKET}"]) == 2
    assert "--s3: uploading to S3 needs boto3: pip install 'sitealert[s3]'" in capsys.readouterr().err
    assert not (tmp_path / "tree").exists()


@pytest.mark.django_db
def test_publish_reports_a_failed_upload_and_the_tree_stays_published(italy, list_targets, keys_dir, endpoint,
                                                                      settings, tmp_path, capsys):
    settings.SITEALERT = {**settings.SITEALERT, "S3_ENDPOINT_URL": endpoint}
    list_targets(italy, ["films.example"])
    assert main(["publish", str(tmp_path / "tree"), "--s3", "s3://absent"]) == 1
    assert f"upload to s3://absent failed: s3://absent/: the bucket 'absent' does not exist at {endpoint}" in \
        capsys.readouterr().err
    assert (tmp_path / "tree/metadata/timestamp.json").exists()


@pytest.mark.django_db
def test_the_worker_uploads_after_publishing_and_retries_a_failed_upload(italy, list_targets, keys_dir, endpoint,
                                                                          proxy, settings, tmp_path, caplog):
    tree = tmp_path / "mirror"
    settings.SITEALERT = {**settings.SITEALERT, "MIRROR_DIR": tree, "MIRROR_S3_URL": f"s3://{BUCKET}",
                          "S3_ENDPOINT_URL": proxy.url, "S3_REGION": "us-east-1"}
    list_targets(italy, ["films.example"])
    proxy.fail_from_write = 3

    publish.publish_mirror(datetime.now(UTC))  # published, the upload fails: logged, not raised

    assert "upload of " in caplog.text and "the bucket still serves its previous tree" in caplog.text
    assert "metadata/timestamp.json" not in keys_in_bucket(endpoint)
    proxy.fail_from_write = None
    proxy.writes.clear()
    publish.publish_mirror(datetime.now(UTC))  # nothing new to publish: the upload is tried again

    assert proxy.puts()[-1] == "metadata/timestamp.json"
    assert keys_in_bucket(endpoint) == tree_keys_of(tree)
    proxy.writes.clear()
    publish.publish_mirror(datetime.now(UTC))
    assert proxy.writes == []  # current: the bucket is not even listed... nor written

    list_targets(italy, ["music.test"])
    publish.publish_mirror(datetime.now(UTC))
    assert proxy.puts()[-1] == "metadata/timestamp.json"
    state, _files = bucket_reader(endpoint, tmp_path, tree, "").read_state()
    assert state["count"] == 2


@pytest.mark.django_db
def test_a_replica_syncs_from_the_bucket_and_an_interrupted_upload_leaves_it_the_previous_version(
        italy, list_targets, as_actor, keys_dir, endpoint, proxy, settings, tmp_path):
    settings.SITEALERT = {**settings.SITEALERT, "S3_ENDPOINT_URL": proxy.url, "S3_REGION": "us-east-1"}
    tree, url, mirror = tmp_path / "tree", f"s3://{BUCKET}/feeds", f"{endpoint}/{BUCKET}/feeds/"
    list_targets(italy, ["films.example", "music.test"])
    assert main(["publish", str(tree), "--s3", url]) == 0
    replica = Replica(tmp_path / "replica")
    first = replica.sync(mirror=mirror, root=tree / "metadata/1.root.json")
    assert (first.mode, replica.version, replica.checksum) == ("full", *builder.cached_feed("txt")[:2])

    list_targets(italy, ["series.example"])
    remove_listings(italy, ["music.test"], "decision annulled", actor=as_actor(italy))
    proxy.writes.clear()
    proxy.fail_from_write = 4  # the upload stops among the new target files
    assert main(["publish", str(tree), "--s3", url]) == 1
    assert Replica(tmp_path / "replica").sync(mirror=mirror).mode == "unchanged"
    assert replica.check("music.test") and not replica.check("series.example")

    proxy.fail_from_write = None
    assert main(["publish", str(tree), "--s3", url]) == 0  # the same version: only the upload's rest
    second = Replica(tmp_path / "replica").sync(mirror=mirror)
    assert (second.mode, second.added, second.removed) == ("incremental", ("series.example",), ("music.test",))
    reopened = Replica(tmp_path / "replica")
    assert (reopened.version, reopened.checksum) == builder.cached_feed("txt")[:2]
