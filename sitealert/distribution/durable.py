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
from concurrent.futures import ThreadPoolExecutor

TEMPORARY_PREFIX = ".tmp-"
# Flushing many small files one after the other waits for the disk each time; the file system
# commits concurrent flushes together (4,096 files of 2 KB: 0.5 s with 32 threads).
FLUSHING_THREADS = 32


def fsync_directory(path):
    _fsync_file(path)


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
    """Put the content of `source`, a file open for reading, at `path` (which must not exist yet),
    durably: a hard link to its file where both are on one file system and the file already has
    `mode` (the feed cache never rewrites a file in place), else a copy with `mode`: the feed
    cache's files are 0640, readable by the service's group only, and a link shares that mode, so
    a static server running as another user could not read the list. False when `path` was there
    already."""
    if os.path.exists(path):
        return False
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f"{TEMPORARY_PREFIX}{os.getpid()}-{os.path.basename(path)}")
    _remove(tmp)
    try:
        linked = False
        if os.fstat(source.fileno()).st_mode & 0o7777 == mode:
            try:
                os.link(source.name, tmp)
                linked = os.stat(tmp).st_ino == os.fstat(source.fileno()).st_ino
            except OSError:
                pass
        if not linked:  # another file system, or the name now holds another file: copy the one we hold
            _remove(tmp)
            source.seek(0)
            with open(tmp, "xb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            os.chmod(tmp, mode)
        _fsync_file(tmp)
        return _into_place(tmp, path, False, directories)
    except BaseException:
        _remove(tmp)
        raise


def write_new_files(files, directories, mode=0o644):
    """Write each (path, data) whose path does not exist yet, durably, as `write_file` with
    replace=False would, but flushed to disk together; returns the paths written."""
    pending = []
    try:
        for path, data in files:
            if os.path.exists(path):
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=TEMPORARY_PREFIX)
            pending.append((tmp, path))
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        with ThreadPoolExecutor(FLUSHING_THREADS) as pool:
            list(pool.map(_fsync_file, [tmp for tmp, _ in pending]))
        return [path for tmp, path in pending if _into_place(tmp, path, False, directories)]
    except BaseException:
        for tmp, _ in pending:
            _remove(tmp)
        raise


def _fsync_file(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
