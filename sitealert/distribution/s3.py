"""Upload of a published tree (`sitealert publish DIR`) to S3-compatible object storage.

`upload_tree(directory, "s3://bucket/prefix")` makes `prefix/metadata/` and `prefix/targets/` in the
bucket a copy of `DIR/metadata/` and `DIR/targets/`, sending only objects that are missing or differ
(size, then the MD5 that S3 keeps as a single-part object's ETag), in the order that keeps the
bucket valid for readers at every moment, as `sitealert publish` does on disk:

1. target files (consistent-snapshot names, never overwritten);
2. versioned metadata: the delegated and top-level targets roles (`N.hashes.json`,
   `N.targets.json`), then `N.snapshot.json`;
3. new roots (`N.root.json` in version order, then `root.json`) just before `timestamp.json`, last:
   until it is replaced, readers follow the previous timestamp to the previous snapshot, all of
   whose files are still there (a new root goes up as late as it can, as `sitealert publish` writes
   it: after a rotation of the timestamp or snapshot key, clients that already read it refuse the
   previous timestamp until the new one is up);
4. only then, objects under `metadata/` and `targets/` that DIR no longer holds are deleted.

An upload that stops anywhere before `timestamp.json` (network error, refused request, kill) leaves
the previous tree valid (except, after a key rotation, for the clients that read the new root);
running it again sends what is still missing. Nothing outside `prefix/metadata/` and
`prefix/targets/` is touched. Before anything is sent, a DIR whose metadata names a missing file is
refused, and so is a DIR whose timestamp is older than the bucket's (clients would see a rollback).

boto3 is the optional `s3` extra (`pip install 'sitealert[s3]'`), imported only when an upload
runs. Credentials come from boto3's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, an instance role...); an endpoint URL selects another S3-compatible service.
"""

import base64
import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

AREAS = ("metadata/", "targets/")
# Parallel requests for the target files (and connections kept open).
CONCURRENCY = 8
# A target file named after its SHA-256 (consistent snapshot): its content never changes.
CONSISTENT_NAME = re.compile(r"[0-9a-f]{64}\.[^/]+")
VERSIONED_METADATA = re.compile(r"(\d+)\.(.+)\.json")
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")

# The serving rules of docs/distribution.md: what never changes under its name is cached for good;
# timestamp.json (every publish, and before it expires) and root.json change in place: a minute.
IMMUTABLE = "public, max-age=31536000, immutable"
IN_PLACE = "public, max-age=60"
CREDENTIAL_ERRORS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken",
                     "ExpiredToken", "InvalidClientTokenId", "AuthorizationHeaderMalformed"}


class S3Error(Exception):
    """The upload cannot start or did not finish; the message says why and what the bucket holds."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # "" or "a/b/"

    @classmethod
    def parse(cls, url):
        """s3://bucket or s3://bucket/some/prefix; S3Error names what is wrong."""
        parts = urlsplit(url.strip())
        if parts.scheme != "s3" or not parts.netloc:
            raise S3Error(f"{url!r} is not an S3 URL: write s3://BUCKET or s3://BUCKET/PREFIX")
        if parts.query or parts.fragment or "@" in parts.netloc or ":" in parts.netloc:
            raise S3Error(f"{url!r}: an S3 URL has only a bucket and a prefix (s3://BUCKET/PREFIX); "
                          "give the endpoint with SITEALERT_S3_ENDPOINT_URL")
        if not BUCKET_NAME.fullmatch(parts.netloc) or ".." in parts.netloc:
            raise S3Error(f"{parts.netloc!r} is not a valid bucket name (3 to 63 lower-case letters, digits, "
                          "dots and hyphens, beginning and ending with a letter or digit)")
        segments = [segment for segment in parts.path.split("/") if segment]
        if any(segment in (".", "..") for segment in segments):
            raise S3Error(f"{url!r}: the prefix may not contain '.' or '..' segments")
        return cls(parts.netloc, "".join(segment + "/" for segment in segments))

    def __str__(self):
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass
class UploadReport:
    uploaded: list = field(default_factory=list)  # keys relative to DIR, in the order they were sent
    deleted: list = field(default_factory=list)
    unchanged: int = 0
    bytes_uploaded: int = 0
    published: bool = False  # the bucket's timestamp.json is DIR's: what remains is deletions

    def summary(self):
        return (f"{len(self.uploaded)} objects uploaded ({self.bytes_uploaded} bytes), "
                f"{self.unchanged} unchanged, {len(self.deleted)} deleted")


@dataclass
class _LocalFile:
    path: Path
    size: int


def content_type(name):
    if name.endswith(".json"):
        return "application/json"
    if name.endswith(".gz"):
        # Never Content-Encoding: gzip — clients must receive the bytes the metadata's hashes cover.
        return "application/gzip"
    if name.endswith(".txt"):
        return "text/plain; charset=utf-8"
    if name.endswith(".csv"):
        return "text/csv; charset=utf-8"
    return "application/octet-stream"


def cache_control(relative):
    area, _, rest = relative.partition("/")
    name = rest.rsplit("/", 1)[-1]
    if area == "metadata":
        return IMMUTABLE if VERSIONED_METADATA.fullmatch(name) else IN_PLACE
    rule = IMMUTABLE if CONSISTENT_NAME.fullmatch(name) else IN_PLACE
    # The list in clear (state.json, lists/, deltas/) goes to authorized parties only: a shared cache
    # must not keep an answer to one of them for others (the nginx rules of docs/distribution.md).
    return rule if rest.startswith("hashes/") else rule.replace("public", "private")


def upload_step(relative):
    """The step of the upload an object belongs to, and its rank within it (see the module's doc)."""
    if relative.startswith("targets/"):
        return (0, 0)
    name = relative[len("metadata/"):]
    if name == "timestamp.json":
        return (6, 0)
    if name == "root.json":
        return (5, 0)
    versioned = VERSIONED_METADATA.fullmatch(name)
    if not versioned:
        return (2, 0)
    version, role = int(versioned.group(1)), versioned.group(2)
    if role == "root":
        return (4, version)
    if role == "snapshot":
        return (3, version)
    # Delegated roles before the targets role that delegates to them.
    return (2, version) if role == "targets" else (1, version)


def local_tree(directory):
    """{relative key: _LocalFile} for the files under DIR/metadata and DIR/targets (hidden files,
    such as a writer's temporary files, left out)."""
    files = {}
    for area in AREAS:
        root = directory / area
        for path, subdirectories, names in os.walk(root):
            subdirectories[:] = [name for name in subdirectories if not name.startswith(".")]
            for name in names:
                if name.startswith("."):
                    continue
                full = Path(path) / name
                files[full.relative_to(directory).as_posix()] = _LocalFile(full, full.stat().st_size)
    return files


def check_complete(directory, files):
    """Refuse a tree whose current metadata names a file DIR does not hold: uploaded, it would send
    readers to a missing file. Returns the version of DIR's timestamp."""
    timestamp = _read_metadata(directory, "timestamp.json")
    required = []
    snapshot_name = f"{timestamp['meta']['snapshot.json']['version']}.snapshot.json"
    required.append("metadata/" + snapshot_name)
    if required[-1] in files:
        snapshot = _read_metadata(directory, snapshot_name)
        for role, meta in snapshot["meta"].items():
            role_name = f"{meta['version']}.{role}"
            required.append("metadata/" + role_name)
            if required[-1] in files:
                for target, info in _read_metadata(directory, role_name).get("targets", {}).items():
                    folder, _, name = target.rpartition("/")
                    digest = next(iter(info["hashes"].values()))  # the name python-tuf's client asks for
                    required.append("targets/" + (folder + "/" if folder else "") + f"{digest}.{name}")
    missing = [key for key in required if key not in files]
    if "metadata/root.json" not in files:
        missing.insert(0, "metadata/root.json")
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise S3Error(f"{directory} is not a complete published tree: its metadata names {shown}, which it "
                      "does not hold; nothing was uploaded")
    return timestamp["version"]


def _read_metadata(directory, name):
    path = directory / "metadata" / name
    try:
        with open(path, "rb") as f:
            return json.load(f)["signed"]
    except FileNotFoundError:
        raise S3Error(f"{directory} is not a published tree (no metadata/{name}): run `sitealert publish "
                      f"{directory}` first; nothing was uploaded") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise S3Error(f"{path} is not TUF metadata ({exc}); nothing was uploaded") from None


def s3_client(endpoint_url=None, region=None, attempts=3):
    """A boto3 S3 client: AWS unless `endpoint_url` names another S3-compatible service (then with
    path-style addresses, which every such service accepts); a failed request is tried `attempts`
    times in all."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise S3Error("uploading to S3 needs boto3: pip install 'sitealert[s3]'") from None
    # Checksums only where an operation requires one: each PUT carries its Content-MD5, which S3 and
    # every compatible service check, while the CRC32 headers boto3 adds by default since 1.36 are
    # refused by several of those services (MinIO, Backblaze B2, Cloudflare R2 versions).
    config = Config(retries={"max_attempts": attempts, "mode": "standard"}, connect_timeout=10, read_timeout=60,
                    max_pool_connections=CONCURRENCY, request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    s3={"addressing_style": "path"} if endpoint_url else None)
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, region_name=region or None,
                                          config=config)


def upload_tree(directory, url, *, endpoint_url=None, region=None, client=None):
    """Mirror the published tree `directory` to the S3 URL; returns an UploadReport. Raises S3Error."""
    directory = Path(directory)
    location = S3Location.parse(url)
    files = local_tree(directory)
    version = check_complete(directory, files)
    if client is None:
        client = s3_client(endpoint_url, region)
    report = UploadReport()
    with _explained(client, location, report):
        remote = {}
        for area in AREAS:
            remote.update(_remote_objects(client, location, area))
        _refuse_rollback(client, location, remote, version, files)
        pending = {}
        for relative, local in files.items():
            if _needs_upload(relative, local, remote.get(relative)):
                pending.setdefault(upload_step(relative), []).append(relative)
            else:
                report.unchanged += 1
        for step in sorted(pending):
            keys = sorted(pending[step])
            if step[0] == 0:
                _put_in_parallel(client, location, keys, files, report)
            else:
                for relative in keys:
                    report.bytes_uploaded += _put(client, location, relative, files[relative])
                    report.uploaded.append(relative)
        report.published = True
        stale = sorted(set(remote) - set(files))
        for start in range(0, len(stale), 1000):
            batch = stale[start:start + 1000]
            answer = client.delete_objects(Bucket=location.bucket, Delete={
                "Objects": [{"Key": location.prefix + key} for key in batch], "Quiet": True})
            if answer.get("Errors"):
                error = answer["Errors"][0]
                raise S3Error(f"{location}: deleting {error.get('Key')} failed: {error.get('Code')}: "
                              f"{error.get('Message')}; the new tree is complete, run the upload again to "
                              "remove the objects it no longer needs")
            report.deleted.extend(batch)
    return report


def _refuse_rollback(client, location, remote, version, files):
    """Never replace the bucket's timestamp with an older one: every client that read it would
    refuse the mirror as rolled back. It happens when DIR is older than what was uploaded (a
    restored directory, another publisher writing to the same prefix)."""
    held = remote.get("metadata/timestamp.json")
    local = files["metadata/timestamp.json"]
    if held is None or (held[0] == local.size and held[1] == _md5(local.path).hex()):
        return
    body = client.get_object(Bucket=location.bucket, Key=f"{location.prefix}metadata/timestamp.json")["Body"].read()
    try:
        held_version = json.loads(body)["signed"]["version"]
    except (ValueError, KeyError, TypeError):
        return  # not TUF metadata: nothing a client could hold
    if isinstance(held_version, int) and held_version > version:
        raise S3Error(f"{location}: the bucket's timestamp.json is version {held_version}, newer than the "
                      f"directory's ({version}): clients would refuse the upload as a rollback. Another "
                      "publisher writes there, or the directory is older than what was uploaded; nothing was "
                      "uploaded (after a new root chain, `sitealert keys init --force`, empty PREFIX/metadata/ "
                      "first)")


def _put_in_parallel(client, location, keys, files, report):
    pool = ThreadPoolExecutor(CONCURRENCY)
    futures = {pool.submit(_put, client, location, key, files[key]): key for key in keys}
    try:
        for future in as_completed(futures):
            future.result()  # the first failure ends the step
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure, send nothing more
        for future, key in futures.items():  # what was sent before the step ended
            if future.done() and not future.cancelled() and future.exception() is None:
                report.uploaded.append(key)
                report.bytes_uploaded += future.result()


def _remote_objects(client, location, area):
    objects = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket,
                                                                 Prefix=location.prefix + area):
        for item in page.get("Contents", ()):
            objects[item["Key"][len(location.prefix):]] = (item["Size"], item["ETag"].strip('"'))
    return objects


def _needs_upload(relative, local, remote):
    if remote is None or remote[0] != local.size:
        return True
    if relative.startswith("targets/") and CONSISTENT_NAME.fullmatch(relative.rsplit("/", 1)[-1]):
        return False  # named after its content, and an S3 object is never half written
    return remote[1] != _md5(local.path).hex()


def _md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def _put(client, location, relative, local):
    """Send one file, streamed from disk, with its MD5 for the server to check."""
    digest = base64.b64encode(_md5(local.path)).decode()
    with open(local.path, "rb") as f:
        client.put_object(Bucket=location.bucket, Key=location.prefix + relative, Body=f, ContentLength=local.size,
                          ContentType=content_type(relative), CacheControl=cache_control(relative), ContentMD5=digest)
    return local.size


class _explained:
    """Turn botocore's exceptions into one S3Error that says what failed and what readers see."""

    def __init__(self, client, location, report):
        self.client, self.location, self.report = client, location, report

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if exc is None or isinstance(exc, S3Error) or not _is_botocore_error(exc):
            return False
        state = ("the new tree is complete; some objects it no longer needs were not deleted"
                 if self.report.published else "the bucket still serves its previous tree")
        reason = _reason(exc, self.location, self.client)
        raise S3Error(f"{self.location}: {reason} ({state}; {len(self.report.uploaded)} objects were uploaded)") \
            from exc


def _is_botocore_error(exc):
    return type(exc).__module__.startswith(("botocore", "boto3", "s3transfer"))


def _reason(exc, location, client):
    response = getattr(exc, "response", None)
    if response is not None:
        error = response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        if code == "NoSuchBucket":
            return f"the bucket {location.bucket!r} does not exist at {client.meta.endpoint_url}"
        if code in CREDENTIAL_ERRORS or code == "403":
            return (f"S3 refused the credentials ({code}: {message or 'forbidden'}): check AWS_ACCESS_KEY_ID, "
                    "AWS_SECRET_ACCESS_KEY and the key's permissions on the bucket")
        return f"S3 answered {code or 'an error'}: {message}".rstrip(": ")
    name = type(exc).__name__
    if name == "NoCredentialsError":
        return ("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or another credential "
                "source boto3 reads")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"):
        return f"cannot reach {client.meta.endpoint_url}: {exc}"
    return str(exc)
