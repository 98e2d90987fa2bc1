"""`sitealert publish DIR`: the signed static tree of the aggregated list (docs/distribution.md).

    DIR/metadata/<N>.root.json, root.json      every root the keys directory holds, and the newest
    DIR/metadata/<N>.{snapshot,targets,hashes}.json
    DIR/metadata/timestamp.json                written last, by rename
    DIR/targets/<dir>/<sha256>.<name>          the target `<dir>/<name>` (consistent snapshots)

Targets: `state.json` (what a client reads first), `lists/E/V.{txt,csv,json}.gz` (the feed's own
cached gzip documents: the bytes /api/v1/feed sends), `deltas/E/S-V.json.gz` (the cached changes
documents of /api/v1/feed/changes?since=S), `federation/E/V.json.gz`, `federation/E/S-V.json.gz` and
`federation/E/authorities-V.json.gz` (the bodies of /api/v1/federation/listings?since=0 and ?since=S
and of /federation/authorities, for subscribing installations), and, under the delegated role
"hashes", the private lookup's shards `hashes/E/V/<prefix>`.

A reader never sees new metadata that points at a missing file: target files go first (under names
that hold their hash, never overwritten), then the hashes, targets and snapshot metadata under new
version numbers, then timestamp.json by rename; every file is fsynced before its rename. A publish
killed at any moment leaves the previous tree valid, and the next one removes what it left. Old
files go only once none of the last SNAPSHOTS_KEPT snapshots refers to them.
"""

import gzip
import hashlib
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from sitealert.core.conf import setting
from sitealert.distribution import durable, keys, s3
from sitealert.federation import documents as federation_documents
from sitealert.feed import builder, cache, private

LIST_FORMATS = ("txt", "csv", "json")
STATE_PATH = "state.json"
HASHES_ROLE = "hashes"
# TUF matches a delegation's path pattern segment by segment: the shards hashes/<epoch>/<version>/<prefix>,
# and files beside them such as hashes/current.json.
HASHES_PATTERNS = ["hashes/*", "hashes/*/*/*"]
ROLE_EXPIRY = timedelta(days=30)  # targets, hashes and snapshot; re-signed once half of it has passed
SNAPSHOTS_KEPT = 3  # files referenced by the last this many snapshots stay, for readers holding them
ATTEMPTS = 5  # to read every document at one version while new versions arrive
PLACING_THREADS = 4
HASH_BLOCK = 4 << 20
VERSIONED = re.compile(r"^([1-9][0-9]*)\.(root|snapshot|targets|hashes)\.json$")

logger = logging.getLogger("sitealert.distribution")
# (tree directory, S3 URL) whose last upload by this process completed; a new publication clears it.
_uploaded = set()


class PublishError(Exception):
    """The tree cannot be written as asked; the message says why. The tree is left as it was."""


@dataclass
class Publication:
    """What a publish did: the files it wrote and removed, relative to DIR, in the order it did it
    (an uploader copies `written` in that order, then deletes `removed`)."""

    epoch: str
    version: int
    written: list = field(default_factory=list)
    removed: list = field(default_factory=list)

    @property
    def changed(self):
        return bool(self.written or self.removed)


def _now():
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


# --- The tree as it stands ------------------------------------------------------------------------

class _Tree:
    """DIR's published metadata: what timestamp.json points at, read as the publisher's own files."""

    def __init__(self, directory):
        self.directory = directory
        self.metadata_dir = os.path.join(directory, "metadata")
        self.targets_dir = os.path.join(directory, "targets")
        self.timestamp = self.snapshot = self.targets = self.hashes = None
        self.state = None
        path = os.path.join(self.metadata_dir, "timestamp.json")
        if not os.path.exists(path):
            return
        try:
            self.timestamp = Metadata[Timestamp].from_file(path)
            self.snapshot = Metadata[Snapshot].from_file(
                self.metadata_path("snapshot", self.timestamp.signed.snapshot_meta.version))
            self.targets = Metadata[Targets].from_file(
                self.metadata_path("targets", self.snapshot.signed.meta["targets.json"].version))
            self.hashes = Metadata[Targets].from_file(
                self.metadata_path(HASHES_ROLE, self.snapshot.signed.meta[f"{HASHES_ROLE}.json"].version))
            state_file = self.targets.signed.targets.get(STATE_PATH)
            if state_file is not None:
                with open(self.target_location(state_file), "rb") as f:
                    self.state = json.load(f)
        except (OSError, ValueError, KeyError) as exc:
            raise PublishError(f"{directory} holds a tree this publisher cannot continue ({exc}); publish into an "
                               "empty directory, or restore the tree") from None

    def metadata_path(self, role, version):
        return os.path.join(self.metadata_dir, f"{version}.{role}.json")

    def target_location(self, target_file):
        return os.path.join(self.targets_dir, target_name(target_file.path, target_file.hashes["sha256"]))

    def version_of(self, role):
        document = {"timestamp": self.timestamp, "snapshot": self.snapshot, "targets": self.targets,
                    HASHES_ROLE: self.hashes}[role]
        return 0 if document is None else document.signed.version


def target_name(path, sha256):
    """Where the target `path` is stored: a consistent-snapshot name, `<dir>/<sha256>.<name>`."""
    directory, _, name = path.rpartition("/")
    return f"{directory}/{sha256}.{name}" if directory else f"{sha256}.{name}"


# --- The documents of the current version ----------------------------------------------------------

@dataclass
class _Documents:
    epoch: str
    version: int
    checksum: str
    lists: dict  # fmt -> open FeedFile (gzip)
    deltas: dict  # since -> open ChangesFile (gzip)
    federation: dict = field(default_factory=dict)  # "full", "authorities", since -> open FederationFile (gzip)

    def close(self):
        for document in [*self.lists.values(), *self.deltas.values(), *self.federation.values()]:
            document.file.close()


def _since_versions(previous_state, epoch, version):
    """The versions a client of this mirror may hold (those published before, in this epoch), the
    newest SITEALERT_MIRROR_DELTAS of them: each gets a delta to `version`."""
    if not previous_state or previous_state.get("epoch") != epoch:
        return []
    held = {int(since) for since in previous_state.get("deltas", {})} | {int(previous_state["version"])}
    return sorted(since for since in held if since < version)[-setting("MIRROR_DELTAS"):] if setting(
        "MIRROR_DELTAS") else []


def _current_documents(previous_state):
    """The gzip documents of one version (the current one), from the feed cache (built there if
    need be: the feed's own builder, so a list here is the very file /api/v1/feed sends)."""
    for _attempt in range(ATTEMPTS):
        state = builder.feed_state()
        opened = _Documents(state.epoch, state.version, "", {}, {})
        try:
            for fmt in LIST_FORMATS:
                opened.lists[fmt] = builder.open_feed(fmt, gzipped=True)
            sinces = _since_versions(previous_state, state.epoch, state.version)
            builder.build_changes(sinces)  # all at once; open_changes then finds them built
            for since in sinces:
                try:
                    opened.deltas[since] = builder.open_changes(since, gzipped=True)
                except (builder.ResyncRequired, builder.FromTheFuture):
                    continue  # no longer in the change log: such a client downloads a list
            _open_federation(opened)
            versions = {document.version for document in
                        [*opened.lists.values(), *opened.deltas.values(), *opened.federation.values()]}
            if versions == {state.version} and builder.feed_state().epoch == state.epoch:
                opened.checksum = opened.lists["txt"].checksum
                return opened
        except BaseException:
            opened.close()
            raise
        opened.close()  # a new version arrived while reading: read them all again
    raise PublishError(f"the list changed during each of {ATTEMPTS} attempts to read one version; try again")


def _open_federation(opened):
    """The federation documents (sitealert.federation.documents) for the subscribers of this mirror:
    the listings since 0 and since each version a list delta is published from, and the authorities."""
    opened.federation["full"] = federation_documents.open_document("listings", 0, gzipped=True)
    opened.federation["authorities"] = federation_documents.open_document("authorities", gzipped=True)
    for since in opened.deltas:
        try:
            opened.federation[since] = federation_documents.open_document("listings", since, gzipped=True)
        except (builder.ResyncRequired, builder.FromTheFuture):
            continue


def _federation_targets(epoch, version, federation):
    """{key of _Documents.federation: target path}: federation/E/V.json.gz, federation/E/S-V.json.gz,
    federation/E/authorities-V.json.gz."""
    return {key: f"federation/{epoch}/" + {"full": f"{version}.json.gz",
                                           "authorities": f"authorities-{version}.json.gz"}.get(
        key, f"{key}-{version}.json.gz") for key in federation}


def _count_entries(epoch, version, txt_document):
    """Entries at `version`: the lines of its txt document (the plain one beside the gzip twin)."""
    plain = cache.paths(cache.epoch_directory(epoch), version, "txt")[0]
    count = 0
    try:
        with open(plain, "rb") as f:
            while block := f.read(HASH_BLOCK):
                count += block.count(b"\n")
        return count
    except FileNotFoundError:  # pruned by a newer build: count the gzip document we hold open
        txt_document.file.seek(0)
        with gzip.GzipFile(fileobj=txt_document.file) as f:
            while block := f.read(HASH_BLOCK):
                count += block.count(b"\n")
        return count


def _hash_file(f):
    f.seek(0)
    digest, length = hashlib.sha256(), 0
    while block := f.read(HASH_BLOCK):
        digest.update(block)
        length += len(block)
    return length, digest.hexdigest()


# --- Writing ------------------------------------------------------------------------------------

class _Writer:
    """Adds files to the tree, never overwriting one, and remembers what it wrote. The directories
    of what it wrote are flushed together by `flush`, before timestamp.json makes them visible."""

    def __init__(self, tree, written):
        self.tree, self.written = tree, written
        self.directories = set()

    def flush(self):
        durable.fsync_directories(self.directories)

    def _relative(self, path):
        return os.path.relpath(path, self.tree.directory).replace(os.sep, "/")

    def target_from_file(self, path, f):
        """The TargetFile of the open file `f` as target `path`, placed in the tree."""
        length, sha256 = _hash_file(f)
        target = TargetFile(length, {"sha256": sha256}, path)
        location = self.tree.target_location(target)
        if durable.place_copy(f, location, directories=self.directories):
            self.written.append(self._relative(location))
        return target

    def target_from_bytes(self, path, data):
        target = TargetFile(len(data), {"sha256": hashlib.sha256(data).hexdigest()}, path)
        location = self.tree.target_location(target)
        if not os.path.exists(location) and durable.write_file(location, data, replace=False,
                                                               directories=self.directories):
            self.written.append(self._relative(location))
        return target

    def targets_from_pairs(self, pairs):
        """{path: TargetFile} of many small targets given as (path, bytes), placed in the tree."""
        targets, files = {}, []
        for path, data in pairs:
            target = TargetFile(len(data), {"sha256": hashlib.sha256(data).hexdigest()}, path)
            targets[path] = target
            files.append((self.tree.target_location(target), data))
        self.written.extend(map(self._relative, durable.write_new_files(files, self.directories)))
        return targets

    def metadata(self, name, document, replace=False, last=False):
        """Write metadata; `last`: the file that makes the others visible, written once they are
        all on disk."""
        if last:
            self.flush()
        path = os.path.join(self.tree.metadata_dir, name)
        if durable.write_file(path, document if isinstance(document, bytes) else document.to_bytes(),
                              replace=replace, directories=None if last else self.directories):
            self.written.append(self._relative(path))


def private_lookup_shards():
    """The private lookup's shards of the current version, as (TUF target path under hashes/, bytes)
    pairs (sitealert.feed.private.static_shards: hashes/<epoch>/<version>/<prefix>, then
    hashes/current.json)."""
    return private.static_shards()


def _hash_targets(writer, epoch, version):
    """The hashes role's targets (the shards) and state.json's "hashes" entry, of the version the
    rest of the tree describes: if the list moved on while they were read, nothing is published
    (the next run publishes the newer version whole)."""
    pairs = list(private_lookup_shards())
    if any(not path.startswith("hashes/") or "" in path.split("/") or ".." in path.split("/") for path, _ in pairs):
        raise PublishError("the private lookup gave a shard path outside hashes/; nothing was published")
    current = json.loads(dict(pairs).get("hashes/current.json", b"{}"))
    if (current.get("epoch"), current.get("version")) != (epoch, version):
        raise PublishError(f"the list changed from version {version} while it was being published; "
                           "nothing was published, publish again")
    return writer.targets_from_pairs(pairs), {key: current.get(key) for key in ("prefix_hex", "shards")}


def _retained_lists(tree, epoch, version):
    """The list targets of the KEEP_VERSIONS - 1 versions published before `version` in `epoch`."""
    if tree.targets is None:
        return {}
    by_version = {}
    for path, target in tree.targets.signed.targets.items():
        parts = path.split("/")
        if parts[0] == "lists" and len(parts) == 3 and parts[1] == epoch:
            number = parts[2].split(".", 1)[0]
            if number.isdigit() and int(number) < version:
                by_version.setdefault(int(number), {})[path] = target
    kept = sorted(by_version)[-(setting("MIRROR_KEEP_VERSIONS") - 1):] if setting("MIRROR_KEEP_VERSIONS") > 1 else []
    return {path: target for number in kept for path, target in by_version[number].items()}


def _sign(role_document, signer, expires, version):
    role_document.version = version
    role_document.expires = expires
    metadata = Metadata(role_document)
    metadata.sign(signer)
    return metadata


def _write_versions(tree, documents, signers, now, writer):
    """Write the targets and the metadata of `documents`' version but timestamp.json; return the
    new snapshot's version."""
    epoch, version = documents.epoch, documents.version
    hashes_targets, hashes_entry = _hash_targets(writer, epoch, version)
    targets = dict(_retained_lists(tree, epoch, version))
    lists = {fmt: f"lists/{epoch}/{version}.{fmt}.gz" for fmt in documents.lists}
    deltas = {str(since): f"deltas/{epoch}/{since}-{version}.json.gz" for since in sorted(documents.deltas)}
    files = [(lists[fmt], document.file) for fmt, document in documents.lists.items()]
    files += [(deltas[str(since)], document.file) for since, document in documents.deltas.items()]
    federation = _federation_targets(epoch, version, documents.federation)
    files += [(federation[key], document.file) for key, document in documents.federation.items()]
    # Hashing, copying and flushing wait on the disk or run outside the GIL: a few files at once.
    with ThreadPoolExecutor(PLACING_THREADS) as pool:
        targets.update(zip([path for path, _ in files], pool.map(lambda item: writer.target_from_file(*item), files)))
    state = {"format": 1, "epoch": epoch, "version": version, "checksum": documents.checksum,
             "count": _count_entries(epoch, version, documents.lists["txt"]), "published_at": _iso(now),
             "lists": lists, "deltas": deltas, "hashes": hashes_entry,
             "federation": {"full": federation["full"], "authorities": federation["authorities"],
                            "checksum": documents.federation["full"].checksum,
                            "deltas": {str(key): path for key, path in sorted(
                                (k, p) for k, p in federation.items() if isinstance(k, int))}}}
    targets[STATE_PATH] = writer.target_from_bytes(
        STATE_PATH, json.dumps(state, sort_keys=True, separators=(",", ":")).encode())

    expires = now + ROLE_EXPIRY
    targets_key = signers["targets"].public_key
    hashes = _sign(Targets(targets=hashes_targets), signers["targets"], expires, tree.version_of(HASHES_ROLE) + 1)
    delegations = Delegations(keys={targets_key.keyid: targets_key}, roles={HASHES_ROLE: DelegatedRole(
        HASHES_ROLE, [targets_key.keyid], 1, True, paths=HASHES_PATTERNS)})
    top = _sign(Targets(targets=targets, delegations=delegations), signers["targets"], expires,
                tree.version_of("targets") + 1)
    snapshot = _sign(Snapshot(meta={"targets.json": MetaFile(top.signed.version),
                                    f"{HASHES_ROLE}.json": MetaFile(hashes.signed.version)}),
                     signers["snapshot"], expires, tree.version_of("snapshot") + 1)
    writer.metadata(f"{hashes.signed.version}.{HASHES_ROLE}.json", hashes)
    writer.metadata(f"{top.signed.version}.targets.json", top)
    writer.metadata(f"{snapshot.signed.version}.snapshot.json", snapshot)
    return snapshot.signed.version


def _write_timestamp(tree, snapshot_version, signers, now, writer):
    timestamp = _sign(Timestamp(snapshot_meta=MetaFile(snapshot_version)), signers["timestamp"],
                      now + timedelta(seconds=setting("MIRROR_TIMESTAMP_EXPIRY")), tree.version_of("timestamp") + 1)
    writer.metadata("timestamp.json", timestamp, replace=True, last=True)


def _copy_roots(keys_dir, tree, writer):
    """Every signed root of the keys directory into the tree (N.root.json, never replaced), and
    root.json = the newest."""
    versions = keys.root_versions(keys_dir)
    for number in versions:
        with open(keys.root_file(keys_dir, number), "rb") as f:
            writer.metadata(f"{number}.root.json", f.read())
    newest = os.path.join(tree.metadata_dir, f"{versions[-1]}.root.json")
    current = os.path.join(tree.metadata_dir, "root.json")
    with open(newest, "rb") as f:
        data = f.read()
    if not os.path.exists(current) or open(current, "rb").read() != data:
        writer.metadata("root.json", data, replace=True)


def _remove_orphans(tree, removed):
    """Metadata a killed publish wrote past what timestamp.json points at: no reader can reach it."""
    for name in os.listdir(tree.metadata_dir):
        match = VERSIONED.match(name)
        if match and match.group(2) != "root" and int(match.group(1)) > tree.version_of(match.group(2)):
            os.remove(os.path.join(tree.metadata_dir, name))
            removed.append(f"metadata/{name}")


def _needs_signing(metadata, lifetime, now):
    return metadata is None or metadata.signed.expires - now < lifetime / 2


def _prune(tree, removed):
    """Remove the metadata and target files that none of the last SNAPSHOTS_KEPT snapshots refers to."""
    snapshots = sorted(int(m.group(1)) for name in os.listdir(tree.metadata_dir)
                       if (m := VERSIONED.match(name)) and m.group(2) == "snapshot")
    kept_metadata, kept_targets = set(), set()
    for number in snapshots[-SNAPSHOTS_KEPT:]:
        kept_metadata.add(f"{number}.snapshot.json")
        snapshot = Metadata[Snapshot].from_file(tree.metadata_path("snapshot", number))
        for name, meta in snapshot.signed.meta.items():
            role = name.removesuffix(".json")
            kept_metadata.add(f"{meta.version}.{name}")
            targets = Metadata[Targets].from_file(tree.metadata_path(role, meta.version))
            kept_targets.update(target_name(path, target.hashes["sha256"])
                                for path, target in targets.signed.targets.items())
    for name in os.listdir(tree.metadata_dir):
        match = VERSIONED.match(name)
        if match and match.group(2) != "root" and name not in kept_metadata:
            os.remove(os.path.join(tree.metadata_dir, name))
            removed.append(f"metadata/{name}")
    for directory, _subdirectories, names in os.walk(tree.targets_dir, topdown=False):
        for name in names:
            relative = os.path.relpath(os.path.join(directory, name), tree.targets_dir).replace(os.sep, "/")
            if relative not in kept_targets:
                os.remove(os.path.join(directory, name))
                removed.append(f"targets/{relative}")
        if directory != tree.targets_dir and not os.listdir(directory):
            os.rmdir(directory)


def publish(directory, keys_dir=None, now=None):
    """Write or update the signed tree in `directory` for the current version; return a Publication.

    Idempotent: at the same version, with the same root, nothing is written unless a signature nears
    its expiry (the timestamp once half of SITEALERT_MIRROR_TIMESTAMP_EXPIRY has passed, the other
    roles once half of ROLE_EXPIRY has). One publisher at a time per directory (a lock file)."""
    keys_dir = keys_dir or keys.keys_directory()
    now = now or _now()
    root, signers = keys.online_signers(keys_dir)
    tree_dir = os.path.abspath(directory)
    try:
        for sub in ("metadata", "targets"):
            os.makedirs(os.path.join(tree_dir, sub), exist_ok=True)
    except OSError as exc:
        raise PublishError(f"cannot write into {directory}: {exc.strerror}") from None
    with cache.lock(tree_dir, "publish"):
        durable.remove_temporary_files(tree_dir)
        tree = _Tree(tree_dir)
        publication = Publication("", 0)
        _remove_orphans(tree, publication.removed)
        writer = _Writer(tree, publication.written)
        documents = _current_documents(tree.state)
        try:
            publication.epoch, publication.version = documents.epoch, documents.version
            # The federation documents' checksum changes at the same version when a source's
            # `republish` is switched: the subscribers must then see the new set.
            same = (tree.state is not None and tree.state.get("epoch") == documents.epoch
                    and tree.state.get("version") == documents.version
                    and (tree.state.get("federation") or {}).get("checksum")
                    == documents.federation["full"].checksum)
            signed_by_root = tree.targets is not None and all(
                signature in root.signed.roles[role].keyids
                for role, metadata in (("targets", tree.targets), ("snapshot", tree.snapshot),
                                       ("timestamp", tree.timestamp))
                for signature in metadata.signatures)
            if not same or not signed_by_root or _needs_signing(tree.snapshot, ROLE_EXPIRY, now) or _needs_signing(
                    tree.targets, ROLE_EXPIRY, now):
                snapshot_version = _write_versions(tree, documents, signers, now, writer)
            elif _needs_signing(tree.timestamp, timedelta(seconds=setting("MIRROR_TIMESTAMP_EXPIRY")), now):
                snapshot_version = tree.version_of("snapshot")
            else:
                snapshot_version = None
            # A new root goes in just before the timestamp its keys sign: a reader meets one
            # without the other only for that instant.
            _copy_roots(keys_dir, tree, writer)
            if snapshot_version is not None:
                _write_timestamp(tree, snapshot_version, signers, now, writer)
            writer.flush()
        finally:
            documents.close()
        if publication.written:
            _prune(_Tree(tree_dir), publication.removed)
    return publication


def publish_mirror(now):
    """The worker's task: publish into SITEALERT_MIRROR_DIR when it is set (after every new
    version, and before the timestamp expires), then upload the tree to SITEALERT_MIRROR_S3_URL
    when that is set."""
    directory = setting("MIRROR_DIR")
    if directory:
        publication = publish(os.fspath(directory), now=now.astimezone(UTC).replace(microsecond=0))
        if setting("MIRROR_S3_URL"):
            _upload_mirror(os.fspath(directory), setting("MIRROR_S3_URL"), publication)


def _upload_mirror(directory, url, publication):
    """Upload after each publish that changed the tree, and until an upload has completed: a failure
    is logged, and tried again at the worker's next run."""
    if publication.changed:
        _uploaded.discard((directory, url))
    if (directory, url) in _uploaded:
        return
    try:
        report = upload(directory, url)
    except s3.S3Error as exc:
        logger.warning("upload of %s failed: %s", directory, exc)
    else:
        _uploaded.add((directory, url))
        logger.info("uploaded %s to %s: %s", directory, url, report.summary())


def upload(directory, url, client=None):
    """Upload the published tree in `directory` to the S3 URL (sitealert.distribution.s3), with the
    publisher's lock held so that no publish changes the tree meanwhile; returns the UploadReport."""
    with cache.lock(os.path.abspath(directory), "publish"):
        return s3.upload_tree(directory, url, endpoint_url=setting("S3_ENDPOINT_URL"), region=setting("S3_REGION"),
                              client=client)
