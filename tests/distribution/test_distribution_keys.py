"""`sitealert keys init|rotate|show`: keys as private files, never overwritten by accident, rotated
through root so that a client that pinned root version 1 follows to the new key."""

import json
import os
import stat

import pytest
from tuf.api.metadata import Metadata, Root

from sitealert.cli import main
from sitealert.distribution import keys, publish

from .conftest import Client


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_writes_private_keys_and_a_signed_root(tmp_path):
    directory = tmp_path / "keys"
    path = keys.init(str(directory))
    assert _mode(directory) == 0o700
    for role in keys.TOP_ROLES:
        assert _mode(directory / f"{role}.key") == 0o600
        assert (directory / f"{role}.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    root = Metadata[Root].from_file(path)
    assert root.signed.version == 1 and root.signed.consistent_snapshot
    root.signed.verify_delegate("root", root.signed_bytes, root.signatures)  # signed by its own root key
    assert len({tuple(root.signed.roles[role].keyids) for role in keys.TOP_ROLES}) == 4


def test_existing_keys_are_never_overwritten_without_force(tmp_path):
    directory = tmp_path / "keys"
    keys.init(str(directory))
    before = {role: (directory / f"{role}.key").read_bytes() for role in keys.TOP_ROLES}
    with pytest.raises(keys.KeysError, match="exist already.*nothing was changed"):
        keys.init(str(directory))
    assert before == {role: (directory / f"{role}.key").read_bytes() for role in keys.TOP_ROLES}
    keys.init(str(directory), force=True)
    assert all(before[role] != (directory / f"{role}.key").read_bytes() for role in keys.TOP_ROLES)
    assert keys.root_versions(str(directory)) == [1]


@pytest.mark.parametrize("loose", ["directory", "key"])
def test_keys_others_may_read_are_refused(tmp_path, loose):
    directory = tmp_path / "keys"
    keys.init(str(directory))
    if loose == "directory":
        os.chmod(directory, 0o755)
        expected = "keys directory .* has mode 0755"
    else:
        os.chmod(directory / "targets.key", 0o644)
        expected = "targets.key has mode 0644.*chmod 600"
    for action in (lambda: keys.show(str(directory)), lambda: keys.online_signers(str(directory)),
                   lambda: keys.rotate("timestamp", str(directory)), lambda: keys.init(str(directory))):
        with pytest.raises(keys.KeysError, match=expected):
            action()
    assert keys.root_versions(str(directory)) == [1]


def test_a_key_root_does_not_trust_is_refused(tmp_path):
    directory, other = tmp_path / "keys", tmp_path / "other"
    keys.init(str(directory))
    keys.init(str(other))
    os.replace(other / "snapshot.key", directory / "snapshot.key")
    with pytest.raises(keys.KeysError, match="snapshot key .* is not the one root version 1 trusts"):
        keys.online_signers(str(directory))


def test_rotate_needs_the_root_key(tmp_path):
    directory = tmp_path / "keys"
    keys.init(str(directory))
    os.remove(directory / "root.key")  # kept offline
    keys.online_signers(str(directory))  # publishing still works
    with pytest.raises(keys.KeysError, match="no root key.*offline"):
        keys.rotate("targets", str(directory))
    assert keys.root_versions(str(directory)) == [1]


@pytest.mark.parametrize("role", ["root", "targets", "snapshot", "timestamp"])
@pytest.mark.django_db
def test_rotation_is_followed_by_a_client_that_pinned_root_1(role, italy, list_targets, keys_dir, tmp_path, served):
    list_targets(italy, ["films.example"])
    tree = tmp_path / "tree"
    publish.publish(str(tree))
    client = Client(str(tmp_path / "client"), served(tree), (tree / "metadata" / "1.root.json").read_bytes())
    client.read_state()
    old_key = (keys_dir / f"{role}.key").read_bytes()
    keys.rotate(role, str(keys_dir))
    assert (keys_dir / f"{role}.key").read_bytes() != old_key
    root2 = Metadata[Root].from_file(str(keys_dir / "root" / "2.root.json"))
    root1 = Metadata[Root].from_file(str(keys_dir / "root" / "1.root.json"))
    root1.signed.verify_delegate("root", root2.signed_bytes, root2.signatures)  # the old root vouches for it
    root2.signed.verify_delegate("root", root2.signed_bytes, root2.signatures)
    list_targets(italy, ["music.example"])
    publish.publish(str(tree))
    state, _files = client.read_state()
    assert state["count"] == 2
    trusted = json.loads((tmp_path / "client" / "metadata" / "root.json").read_text())
    assert trusted["signed"]["version"] == 2


def test_cli_keys_init_show_and_refusals(tmp_path, capsys):
    directory = tmp_path / "keys"
    assert main(["keys", "init", "--dir", str(directory)]) == 0
    out = capsys.readouterr()
    assert "root/1.root.json" in out.err and "timestamp" in out.out
    assert main(["keys", "init", "--dir", str(directory)]) == 2
    assert "keys exist already" in capsys.readouterr().err
    assert main(["keys", "show", "--dir", str(directory), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["root_version"] == 1 and [r["role"] for r in shown["roles"]] == [*keys.TOP_ROLES, "hashes"]
    secrets = [(directory / f"{role}.key").read_text().splitlines()[1] for role in keys.TOP_ROLES]
    assert main(["keys", "show", "--dir", str(directory)]) == 0
    printed = capsys.readouterr().out
    assert not any(secret in printed for secret in secrets)
    assert main(["keys", "rotate", "snapshot", "--dir", str(directory)]) == 0
    assert "2.root.json" in capsys.readouterr().err
    os.chmod(directory, 0o750)
    assert main(["keys", "show", "--dir", str(directory)]) == 2
    assert "chmod 700" in capsys.readouterr().err
