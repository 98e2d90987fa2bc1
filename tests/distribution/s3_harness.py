"""A local S3-compatible server and a small published tree, for the S3 upload's tests and benchmark.

- `moto_endpoint()`: moto's ThreadedMotoServer on loopback (real HTTP), as (base URL, server);
- `TreeWriter`: a consistent-snapshot TUF tree written with python-tuf as `sitealert publish` lays
  it out (hash-named target files, versioned metadata, timestamp.json last, pruning), with no
  database: the upload tests choose each version's files themselves.
"""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from moto.server import ThreadedMotoServer
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer


def moto_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}", server


class TreeWriter:
    """A consistent-snapshot TUF tree: targets/ files under hash-prefixed names, versioned metadata,
    timestamp.json written last; files no longer named by the last two snapshots pruned."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.signer = CryptoSigner.generate_ed25519()
        key = self.signer.public_key
        self.root = Metadata(Root(expires=_in(days=365), consistent_snapshot=True))
        for role in ("root", "targets", "snapshot", "timestamp"):
            self.root.signed.add_key(key, role)
        self.root.sign(self.signer)
        self.version = 0
        self.history = []  # target file names per published version
        self._write("metadata/1.root.json", self.root)
        self._write("metadata/root.json", self.root)

    def publish(self, files, hashes=None):
        """files / hashes: {target path: bytes} for the roles "targets" and "hashes"."""
        self.version += 1
        version, key = self.version, self.signer.public_key
        written = []
        hashes_role = Metadata(Targets(version=version, expires=_in(days=30)))
        for path, data in (hashes or {}).items():
            hashes_role.signed.targets[path] = TargetFile.from_data(path, data)
            written.append(self._target(path, data))
        targets = Metadata(Targets(version=version, expires=_in(days=30)))
        targets.signed.delegations = Delegations(keys={key.keyid: key}, roles={
            # python-tuf matches a pattern segment by segment: "hashes/*" would not cover "hashes/1/ab".
            "hashes": DelegatedRole("hashes", [key.keyid], 1, False, paths=["hashes/*/*"])})
        for path, data in files.items():
            targets.signed.targets[path] = TargetFile.from_data(path, data)
            written.append(self._target(path, data))
        snapshot = Metadata(Snapshot(version=version, expires=_in(days=7)))
        snapshot.signed.meta = {"targets.json": MetaFile(version), "hashes.json": MetaFile(version)}
        timestamp = Metadata(Timestamp(version=version, expires=_in(days=1)))
        timestamp.signed.snapshot_meta = MetaFile(version)
        for name, metadata in (("hashes", hashes_role), ("targets", targets), ("snapshot", snapshot)):
            metadata.sign(self.signer)
            self._write(f"metadata/{version}.{name}.json", metadata)
        timestamp.sign(self.signer)
        self._write("metadata/timestamp.json", timestamp)
        self.history.append(set(written))
        keep = set().union(*self.history[-2:])
        for path in (self.directory / "targets").rglob("*"):
            if path.is_file() and path.relative_to(self.directory).as_posix() not in keep:
                path.unlink()
        for old in range(1, version - 1):
            for role in ("hashes", "targets", "snapshot"):
                (self.directory / f"metadata/{old}.{role}.json").unlink(missing_ok=True)

    def _target(self, path, data):
        folder, _, name = path.rpartition("/")
        relative = f"targets/{folder + '/' if folder else ''}{TargetFile.from_data(path, data).hashes['sha256']}.{name}"
        (self.directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (self.directory / relative).write_bytes(data)
        return relative

    def _write(self, relative, metadata):
        path = self.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(metadata.to_bytes(JSONSerializer(compact=True)))


def _in(**delta):
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def tree_keys_of(directory):
    return sorted(p.relative_to(directory).as_posix() for area in ("metadata", "targets")
                  for p in (directory / area).rglob("*") if p.is_file() and not p.name.startswith("."))
