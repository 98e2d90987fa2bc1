"""The aggregated list as documents: full feed (JSON, txt, csv), changes since N, checksum."""

import csv
import gzip
import hashlib
import io
import json
import os
import tempfile

from django.conf import settings
from django.db import connection, transaction

from sitealert.feed.models import Change, FeedState

FORMATS = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}


class ResyncRequired(Exception):
    """The client's version is older than the retained history."""


class FromTheFuture(Exception):
    """The client claims a version this server has not reached."""


def feed_state():
    state = FeedState.objects.filter(pk=1).first()
    if state is None:
        state, _ = FeedState.objects.get_or_create(pk=1)
    return state


def current_version():
    return feed_state().version


def _iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def _entry_rows():
    """(target, kind, countries, categories, first_listed_at) sorted by code point."""
    order = 'target COLLATE "C"' if connection.vendor == "postgresql" else "target"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT target, kind, countries, categories, first_listed_at FROM feed_feedentry ORDER BY " + order)
        rows = cursor.fetchall()
    if connection.vendor == "sqlite":
        # SQLite hands back text for datetimes on raw cursors.
        from django.utils.dateparse import parse_datetime

        rows = [(t, k, c, cat, parse_datetime(f) if isinstance(f, str) else f) for t, k, c, cat, f in rows]
    rows.sort(key=lambda r: r[0])  # linear on sorted input; guarantees code-point order
    return rows


def _pinned_version():
    """Inside a transaction: the current version, pinned until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Writers hold FOR UPDATE on this row until they commit: sharing it pins the version.
            cursor.execute("SELECT version, pruned_through FROM feed_feedstate WHERE id = 1 FOR SHARE")
            row = cursor.fetchone()
        return row if row else (0, 0)
    state = feed_state()
    return state.version, state.pruned_through


def snapshot():
    """(version, rows) read consistently."""
    with transaction.atomic():
        version, _ = _pinned_version()
        return version, _entry_rows()


def checksum_of(targets):
    digest = hashlib.sha256()
    for target in targets:
        digest.update(target.encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def entry_dict(target, kind, countries, categories, first_listed_at):
    return {
        "target": target,
        "kind": kind,
        "countries": countries.split(",") if countries else [],
        "categories": categories.split(",") if categories else [],
        "first_listed_at": _iso(first_listed_at),
    }


def render(version, rows, fmt):
    checksum = checksum_of(r[0] for r in rows)
    if fmt == "json":
        body = json.dumps({"version": version, "checksum": checksum,
                           "entries": [entry_dict(*r) for r in rows]},
                          separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    elif fmt == "txt":
        body = "".join(r[0] + "\n" for r in rows).encode("utf-8")
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["target", "kind", "countries", "categories", "first_listed_at"])
        writer.writerows((t, k, c.replace(",", " "), cat.replace(",", " "), _iso(f)) for t, k, c, cat, f in rows)
        body = out.getvalue().encode("utf-8")
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return checksum, body


def _cache_dir():
    path = os.path.join(settings.SITEALERT["FEED_CACHE_DIR"], feed_state().epoch)
    os.makedirs(path, exist_ok=True)
    return path


def _write_atomic(path, data):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def etag(state, fmt):
    return f'"{state.epoch[:12]}-{state.version}-{fmt}"'


def cached_feed(fmt, gzipped=False):
    """(version, checksum, body) for the current version, built once per version and format."""
    version = current_version()
    directory = _cache_dir()
    stem = os.path.join(directory, f"feed-{version}.{fmt}")
    meta_path = os.path.join(directory, f"checksum-{version}")
    path = stem + (".gz" if gzipped else "")
    try:
        with open(meta_path) as f:
            checksum = f.read().strip()
        with open(path, "rb") as f:
            return version, checksum, f.read()
    except FileNotFoundError:
        pass
    version, rows = snapshot()
    checksum, body = render(version, rows, fmt)
    stem = os.path.join(directory, f"feed-{version}.{fmt}")
    _write_atomic(stem, body)
    _write_atomic(stem + ".gz", gzip.compress(body, compresslevel=5))
    _write_atomic(os.path.join(directory, f"checksum-{version}"), checksum.encode())
    _prune_cache(directory, version)
    if gzipped:
        with open(stem + ".gz", "rb") as f:
            body = f.read()
    return version, checksum, body


def _prune_cache(directory, keep_version):
    for name in os.listdir(directory):
        if name.startswith(("feed-", "checksum-")):
            version = name.split("-", 1)[1].split(".", 1)[0]
            if version.isdigit() and int(version) < keep_version - 1:
                try:
                    os.remove(os.path.join(directory, name))
                except FileNotFoundError:
                    pass


def _cached_checksum(version):
    try:
        with open(os.path.join(_cache_dir(), f"checksum-{version}")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def _checksum_in_transaction(version):
    checksum = _cached_checksum(version)
    if checksum is None:
        order = 'target COLLATE "C"' if connection.vendor == "postgresql" else "target"
        with connection.cursor() as cursor:
            cursor.execute("SELECT target FROM feed_feedentry ORDER BY " + order)
            targets = sorted(t for (t,) in cursor.fetchall())
        checksum = checksum_of(targets)
        _write_atomic(os.path.join(_cache_dir(), f"checksum-{version}"), checksum.encode())
    return checksum


def current_checksum():
    """(version, checksum) of the current list, cached per version."""
    with transaction.atomic():
        version, _ = _pinned_version()
        return version, _checksum_in_transaction(version)


def changes_since(since):
    """The SPEC §4 changes document for a client at version `since`."""
    with transaction.atomic():
        version, pruned_through = _pinned_version()
        if since > version:
            raise FromTheFuture(version)
        if since < pruned_through:
            raise ResyncRequired(pruned_through)
        rows = (Change.objects.filter(seq__gt=since, seq__lte=version).order_by("seq")
                .values_list("target", "kind", "listed", "countries", "categories", "first_listed_at"))
        latest = {}
        for row in rows:
            latest[row[0]] = row
        checksum = _checksum_in_transaction(version)
    changes = []
    for target in sorted(latest):
        _, kind, listed, countries, categories, first = latest[target]
        if listed:
            entry = entry_dict(target, kind, countries, categories, first)
            entry["listed"] = True
        else:
            entry = {"target": target, "kind": kind, "listed": False}
        changes.append(entry)
    return {"since": since, "version": version, "checksum": checksum, "changes": changes, "more": False}
