"""The tree's files: placed whole, never overwritten, the content the publisher hashed."""

import os

from sitealert.distribution import durable


def test_a_placed_file_is_the_one_held_open_even_if_its_name_was_replaced(tmp_path):
    source = tmp_path / "cache" / "feed-1.txt.gz"
    source.parent.mkdir()
    source.write_bytes(b"version 1")
    with open(source, "rb") as held:
        replacement = tmp_path / "cache" / "new"
        replacement.write_bytes(b"something else")
        os.replace(replacement, source)
        target = tmp_path / "tree" / "targets" / "abc.1.txt.gz"
        assert durable.place_copy(held, str(target))
    assert target.read_bytes() == b"version 1"
    with open(source, "rb") as held:
        assert not durable.place_copy(held, str(target))  # never overwritten
    assert target.read_bytes() == b"version 1"
    assert not [p for p in target.parent.iterdir() if p.name.startswith(durable.TEMPORARY_PREFIX)]


def test_a_file_on_the_same_file_system_is_linked(tmp_path):
    source = tmp_path / "feed-1.csv.gz"
    source.write_bytes(b"csv")
    source.chmod(0o644)
    with open(source, "rb") as held:
        assert durable.place_copy(held, str(tmp_path / "tree" / "x.csv.gz"))
    assert os.stat(tmp_path / "tree" / "x.csv.gz").st_ino == os.stat(source).st_ino


def test_a_file_readable_by_fewer_is_copied_with_the_tree_mode(tmp_path):
    # The feed cache writes 0640 (its group: the reverse proxy); a link would share that mode and a
    # static server running as another user could not read the list.
    source = tmp_path / "feed-1.csv.gz"
    source.write_bytes(b"csv")
    source.chmod(0o640)
    with open(source, "rb") as held:
        assert durable.place_copy(held, str(tmp_path / "tree" / "x.csv.gz"))
    placed = os.stat(tmp_path / "tree" / "x.csv.gz")
    assert placed.st_ino != os.stat(source).st_ino and placed.st_mode & 0o777 == 0o644
    assert os.stat(source).st_mode & 0o777 == 0o640
    assert (tmp_path / "tree" / "x.csv.gz").read_bytes() == b"csv"


def test_many_new_files_are_written_and_existing_ones_left_alone(tmp_path):
    (tmp_path / "hashes").mkdir()
    (tmp_path / "hashes" / "000").write_bytes(b"kept")
    directories = set()
    written = durable.write_new_files([(str(tmp_path / "hashes" / f"{n:03x}"), b"new %d" % n) for n in range(64)],
                                      directories)
    assert len(written) == 63 and directories == {str(tmp_path / "hashes")}
    assert (tmp_path / "hashes" / "000").read_bytes() == b"kept"
    assert (tmp_path / "hashes" / "03f").read_bytes() == b"new 63"
    durable.remove_temporary_files(str(tmp_path))
    assert len(list((tmp_path / "hashes").iterdir())) == 64
