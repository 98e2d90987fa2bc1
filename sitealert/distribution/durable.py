"""Files written so that a crash (kill -9, power loss) leaves either the old content or the new.

Each file is written under a temporary name beside its final one (`TEMPORARY_PREFIX`), flushed to
disk, renamed into place and its directory flushed too; a writer that dies leaves at most a
temporary file, which the next publish removes. A writer of many files may pass a set as
`directories`: the directories are then added to it, to be flushed together (`fsync_directories`)
before the file that makes them visible to readers is written.
"""

import os
import shutil
import tempfile

TEMPORARY_PREFIX = ".tmp-"


def fsync_directory(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directories(directories):
    for directory in sorted(directories):
        fsync_directory(directory)
    directories.clear()


def write_file(path, data, mode=0o644, replace=True, directories=None):
    """Write `data` to `path` whole, durably; with replace=False an existing `path` is left as it
    is (and False returned): the file is never overwritten."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMPORARY_PREFIX)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return _into_place(tmp, path, replace, directories)
    except BaseException:
        _remove(tmp)
        raise


def place_copy(source, path, mode=0o644, directories=None):
    """Put the content of the file `source` at `path` (which must not exist yet), durably: a hard
    link where both are on one file system (the feed cache never rewrites a file in place), else
    a copy. False when `path` was there already."""
    if os.path.exists(path):
        return False
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f"{TEMPORARY_PREFIX}{os.getpid()}-{os.path.basename(path)}")
    _remove(tmp)
    try:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, mode)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        return _into_place(tmp, path, False, directories)
    except BaseException:
        _remove(tmp)
        raise


def _into_place(tmp, path, replace, directories):
    if replace:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)  # fails if `path` exists: never overwritten
        except FileExistsError:
            os.remove(tmp)
            return False
        os.remove(tmp)
    if directories is None:
        fsync_directory(os.path.dirname(path))
    else:
        directories.add(os.path.dirname(path))
    return True


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def remove_temporary_files(root):
    """Remove what interrupted writers left under `root` (call with the publisher's lock held)."""
    for directory, _subdirectories, names in os.walk(root):
        for name in names:
            if name.startswith(TEMPORARY_PREFIX):
                _remove(os.path.join(directory, name))
