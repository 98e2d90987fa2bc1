"""The signing keys of the signed distribution, as files outside the database.

SITEALERT_KEYS_DIR (default <data dir>/keys, mode 0700) holds one Ed25519 private key per TUF role,
`<role>.key` (PEM, PKCS#8, mode 0600), and every signed root the keys made, `root/<N>.root.json`
(the chain a client walks from the root it pinned to the newest). The delegated role "hashes" is
signed with the targets key. The root key may live elsewhere (offline): publishing needs only the
online keys (targets, snapshot, timestamp); rotating a key needs the root key (docs/distribution.md).

A directory or key file that others may read or write is refused, not used: the key that signs the
list must stay the operator's.
"""

import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Role, Root

from sitealert.core.conf import setting
from sitealert.distribution import durable

TOP_ROLES = ("root", "targets", "snapshot", "timestamp")
ONLINE_ROLES = ("targets", "snapshot", "timestamp")
ROOT_EXPIRY = timedelta(days=365)
ROOT_FILE = re.compile(r"^([1-9][0-9]*)\.root\.json$")


class KeysError(Exception):
    """The keys cannot be used or changed as asked; the message says why and what to do."""


def keys_directory():
    return os.fspath(setting("KEYS_DIR"))


def key_path(directory, role):
    return os.path.join(directory, f"{role}.key")


def root_directory(directory):
    return os.path.join(directory, "root")


def _now():
    return datetime.now(UTC).replace(microsecond=0)


def check_permissions(directory):
    """Raise KeysError unless `directory` and the key files in it are private to their owner."""
    try:
        mode = os.stat(directory).st_mode
    except FileNotFoundError:
        raise KeysError(f"no keys directory at {directory}: run 'sitealert keys init' first") from None
    if not stat.S_ISDIR(mode):
        raise KeysError(f"{directory} is not a directory")
    if mode & 0o077:
        raise KeysError(f"the keys directory {directory} has mode {stat.S_IMODE(mode):04o}: others may reach the "
                        f"keys. Make it private (chmod 700 {directory}) and check who read them")
    for role in TOP_ROLES:
        path = key_path(directory, role)
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            raise KeysError(f"the key file {path} has mode {stat.S_IMODE(mode):04o}: others may read it. Make it "
                            f"private (chmod 600 {path}) and, if it was exposed, rotate it ('sitealert keys rotate "
                            f"{role}')")


def _write_key(directory, role, signer, replace):
    durable.write_file(key_path(directory, role), signer.private_bytes, mode=0o600, replace=replace)


def _write_root(directory, root):
    path = os.path.join(root_directory(directory), f"{root.signed.version}.root.json")
    if not durable.write_file(path, root.to_bytes(), mode=0o600, replace=False):
        raise KeysError(f"{path} exists already: another rotation ran at the same time? Nothing was changed")
    return path


def root_versions(directory):
    """The versions of the signed roots in `directory`, ascending."""
    try:
        names = os.listdir(root_directory(directory))
    except FileNotFoundError:
        return []
    return sorted(int(match.group(1)) for name in names if (match := ROOT_FILE.match(name)))


def root_file(directory, version):
    return os.path.join(root_directory(directory), f"{version}.root.json")


def current_root(directory):
    """The newest signed root (Metadata[Root])."""
    versions = root_versions(directory)
    if not versions:
        raise KeysError(f"no signed root in {root_directory(directory)}: run 'sitealert keys init' first")
    return Metadata[Root].from_file(root_file(directory, versions[-1]))


def load_signer(directory, role, root):
    """The signer of `role` from its key file, which must be the key `root` trusts for it."""
    path = key_path(directory, role)
    try:
        with open(path, "rb") as f:
            private_key = load_pem_private_key(f.read(), None)
    except FileNotFoundError:
        raise KeysError(f"no {role} key at {path}" + (
            ": rotating a key needs the root key (bring it from where it is kept offline)" if role == "root" else
            ": copy the online keys (targets, snapshot, timestamp) from where 'sitealert keys init' ran")) from None
    except ValueError as exc:
        raise KeysError(f"{path} is not a PEM private key: {exc}") from None
    signer = CryptoSigner(private_key)
    if signer.public_key.keyid not in root.signed.roles[role].keyids:
        raise KeysError(f"the {role} key in {path} (key id {signer.public_key.keyid[:16]}) is not the one root "
                        f"version {root.signed.version} trusts for {role}")
    return signer


def online_signers(directory=None):
    """(newest root, {role: signer} for targets, snapshot and timestamp), permissions checked."""
    directory = directory or keys_directory()
    check_permissions(directory)
    root = current_root(directory)
    return root, {role: load_signer(directory, role, root) for role in ONLINE_ROLES}


def init(directory=None, force=False, now=None):
    """Create a key per top-level role and root version 1; return the root file's path. Existing
    keys are kept (KeysError) unless `force`: then every key and the root chain are replaced, which
    makes every client's pinned root useless."""
    directory = directory or keys_directory()
    if os.path.exists(directory):
        check_permissions(directory)
    else:
        os.makedirs(directory, mode=0o700)
        os.chmod(directory, 0o700)  # whatever the umask
    existing = [key_path(directory, role) for role in TOP_ROLES if os.path.exists(key_path(directory, role))]
    if (existing or root_versions(directory)) and not force:
        raise KeysError(f"keys exist already in {directory} ({', '.join(map(os.path.basename, existing)) or 'root'}); "
                        "nothing was changed. Use 'sitealert keys rotate ROLE' to replace one, or --force to "
                        "start over (every client must then pin the new root)")
    signers = {role: CryptoSigner.generate_ed25519() for role in TOP_ROLES}
    root = Root(version=1, expires=(now or _now()) + ROOT_EXPIRY, consistent_snapshot=True,
                keys={signer.public_key.keyid: signer.public_key for signer in signers.values()},
                roles={role: Role([signers[role].public_key.keyid], 1) for role in TOP_ROLES})
    metadata = Metadata(root)
    metadata.sign(signers["root"])
    if force:
        for version in root_versions(directory):
            os.remove(root_file(directory, version))
    os.makedirs(root_directory(directory), mode=0o700, exist_ok=True)
    for role in TOP_ROLES:
        _write_key(directory, role, signers[role], replace=force)
    return _write_root(directory, metadata)


def rotate(role, directory=None, now=None):
    """Replace `role`'s key: root N+1 trusts the new key instead of the old one, signed with the root
    key (with the old and the new root keys when the root key is the one replaced). Returns the new
    root file's path. The next publish signs with the new key."""
    if role not in TOP_ROLES:
        raise KeysError(f"unknown role {role!r}: choose one of {', '.join(TOP_ROLES)}")
    directory = directory or keys_directory()
    check_permissions(directory)
    previous = current_root(directory)
    root_signer = load_signer(directory, "root", previous)
    new_signer = CryptoSigner.generate_ed25519()
    root = Metadata[Root].from_bytes(previous.to_bytes())
    root.signatures.clear()
    signed = root.signed
    for keyid in list(signed.roles[role].keyids):
        signed.revoke_key(keyid, role)
    signed.add_key(new_signer.public_key, role)
    signed.version += 1
    signed.expires = (now or _now()) + ROOT_EXPIRY
    root.sign(root_signer, append=True)
    if role == "root":
        root.sign(new_signer, append=True)
    # The new key first, under a temporary name: the new root must never trust a key that is lost.
    pending = key_path(directory, role) + ".new"
    durable.write_file(pending, new_signer.private_bytes, mode=0o600)
    path = _write_root(directory, root)
    os.replace(pending, key_path(directory, role))
    durable.fsync_directory(directory)
    return path


@dataclass
class KeyInfo:
    role: str
    keyids: list
    threshold: int
    here: bool  # the private key is in this directory


def show(directory=None):
    """(root version, root expiry, [KeyInfo]) — key ids and roles, never a secret."""
    directory = directory or keys_directory()
    check_permissions(directory)
    root = current_root(directory)
    infos = [KeyInfo(role, list(root.signed.roles[role].keyids), root.signed.roles[role].threshold,
                     os.path.exists(key_path(directory, role))) for role in TOP_ROLES]
    infos.append(KeyInfo("hashes", list(root.signed.roles["targets"].keyids), 1,
                         os.path.exists(key_path(directory, "targets"))))
    return root.signed.version, root.signed.expires, infos


def describe(directory=None):
    """`show` as a JSON-ready dict."""
    version, expires, infos = show(directory)
    return {"root_version": version, "root_expires": expires.isoformat().replace("+00:00", "Z"),
            "roles": [{"role": info.role, "keyids": info.keyids, "threshold": info.threshold,
                       "private_key_here": info.here} for info in infos]}
