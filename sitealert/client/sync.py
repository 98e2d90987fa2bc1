"""sync_replica: bring a replica to the server's current version (SPEC §4), verified, crash-safe.

Incremental through ``/api/v1/feed/changes?since=N`` when the replica has a version (the changes
go into the replica's overlay, see store.py); a full ``/api/v1/feed?format=csv`` download,
streamed into a new base file with bounded memory, for a new or damaged replica, when the server
answers 410 (its history no longer reaches N), when the changes do not reproduce the announced
checksum, when the replica was synced from another server, or on request. Every result is checked against the server's
checksum before it replaces anything on disk. Conditional requests (ETag / If-None-Match) make an
idle poll cost one small round trip. Connection failures, timeouts, 429 and 5xx answers are
retried with exponential backoff and jitter (honouring Retry-After).

httpx is imported only here, when a sync runs.
"""

import csv
import functools
import hashlib
import random
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from sitealert.matcher import Matcher, generation
from sitealert.matcher.core import diff
from sitealert.matcher.suffix_rules import rule_parents

from . import store
from .errors import (
    AuthError,
    ChecksumMismatch,
    IncompatibleServer,
    ProtocolError,
    ReplicaAhead,
    ReplicaDamaged,
    ServerError,
    ServerUnreachable,
)

if TYPE_CHECKING:
    import httpx

    from .replica import Replica

# target -> (kind, countries, categories, first_listed_at), as store.write_snapshot takes it.
EntryFields: TypeAlias = tuple[str, tuple[str, ...], tuple[str, ...], str | None]
Entries: TypeAlias = dict[str, EntryFields]

FEED = "/api/v1/feed"
CHANGES = "/api/v1/feed/changes"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF = 60.0
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FORBIDDEN_IN_FIELDS = re.compile(r"[\t\n\r]")
_CSV_HEADER = "target,kind,countries,categories,first_listed_at"


@dataclass(frozen=True)
class SyncResult:
    """What one sync did."""

    old_version: int
    new_version: int
    mode: str  # "full", "incremental" or "unchanged"
    added: tuple = ()
    removed: tuple = ()
    updated: tuple = ()  # still listed, with other countries, categories or first-listed time
    reason: str = ""  # why a full download was needed
    checksum: str = ""
    seconds: float = 0.0
    compaction_due: bool = False  # the overlay has grown enough for Replica.compact() to merge it
    failed_mirrors: tuple = ()  # a mirror sync: why each mirror tried before the one that succeeded failed

    @property
    def full(self) -> bool:
        return self.mode == "full"

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed or self.updated)

    def __str__(self) -> str:
        if self.mode == "unchanged":
            return f"version {self.new_version}, unchanged ({self.seconds:.2f} s)"
        how = f"full download ({self.reason})" if self.full else "incremental"
        return (f"version {self.old_version} -> {self.new_version}: {how}, {len(self.added)} added, "
                f"{len(self.removed)} removed, {len(self.updated)} updated ({self.seconds:.2f} s)")


def base_url(url: str) -> str:
    """The server's base address: scheme and host, any path prefix, without /api/v1."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http:// or https:// address of a SiteAlert server")
    path = parts.path.rstrip("/")
    for suffix in ("/api/v1/feed/changes", "/api/v1/feed", "/api/v1"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return f"{parts.scheme}://{parts.netloc}{path}"


def mirror_url(url: str) -> str:
    """A signed mirror's base address with a trailing slash (the directory that holds metadata/ and
    targets/; sitealert.client.mirror)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http:// or https:// address of a mirror")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a mirror's address has no query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/metadata"):
        path = path[: -len("/metadata")]
    return f"{parts.scheme}://{parts.netloc}{path}/"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _server_says(response: "httpx.Response") -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            said = body.get(key)
            if isinstance(said, str):
                return said
    return ""


class _Feed:
    """The HTTP side: one connection pool, retries with backoff, errors that say what to do.
    token None: public endpoints only (the private lookup)."""

    def __init__(self, base: str, token: str | None, *, timeout: float, retries: int, backoff: float,
                 transport: "httpx.BaseTransport | None" = None) -> None:
        import httpx

        from sitealert.client import __version__

        self.httpx = httpx
        self.base = base
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(
            base_url=base,
            headers={"Accept": "application/json", "User-Agent": f"sitealert-client/{__version__}",
                     **({"Authorization": f"Bearer {token}"} if token is not None else {})},
            timeout=timeout,
            follow_redirects=True,  # httpx drops the Authorization header on a redirect to another origin
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def _pause(self, attempt: int, response: "httpx.Response | None" = None) -> None:
        delay = min(MAX_BACKOFF, self.backoff * (2 ** attempt)) * random.uniform(0.5, 1.0)
        if response is not None:
            try:
                delay = max(delay, min(MAX_BACKOFF, float(response.headers.get("Retry-After", ""))))
            except ValueError:
                pass
        time.sleep(delay)

    def get(self, path: str, params: dict[str, str] | None = None, etag: str | None = None, *,
            stream: bool = False, accept: str | None = None) -> "httpx.Response":
        """The response (200, 304, 400 or 410); raises for everything else. stream: the body of a
        200 is read by the caller (response.iter_bytes), who closes the response."""
        headers = {"If-None-Match": etag} if etag else {}
        if accept:
            headers["Accept"] = accept
        where = self.base + path
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                request = self._client.build_request("GET", path, params=params, headers=headers)
                response = self._client.send(request, stream=stream)
                if stream and response.status_code != 200:
                    try:
                        response.read()
                    finally:
                        response.close()
            except self.httpx.TransportError as exc:
                if last:
                    raise ServerUnreachable(
                        f"could not reach {where}: {exc or type(exc).__name__} "
                        f"({self.retries + 1} attempts); check the address and the network") from None
                self._pause(attempt)
                continue
            status = response.status_code
            if status in (200, 304, 400, 410):
                return response
            if status in (401, 403):
                said = _server_says(response)
                raise AuthError(
                    f"{self.base} refused the token (HTTP {status}{': ' + said if said else ''}); "
                    f"check --token: a token is shown once when created, and may have expired or been revoked, "
                    f"and it must belong to an authorized user (feed scope)")
            if status in RETRY_STATUSES:
                if last:
                    raise ServerError(f"{where} kept answering HTTP {status} ({self.retries + 1} attempts); "
                                      f"try again later")
                self._pause(attempt, response)
                continue
            if status == 404:
                raise ProtocolError(f"{where} answered 404: there is no SiteAlert feed at this address; "
                                    f"--url must be the server's base address, such as https://alert.example.org")
            raise ProtocolError(f"{where} answered HTTP {status}, which the feed protocol does not use")
        raise AssertionError("unreachable")  # pragma: no cover

    def document(self, response: "httpx.Response") -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise ProtocolError(f"{response.request.url} answered something that is not JSON ({kind}): "
                                f"is this a SiteAlert server?") from None
        if not isinstance(body, dict):
            raise ProtocolError(f"{response.request.url} answered JSON that is not an object")
        return body


# -- documents -------------------------------------------------------------------------------


def read_version(document: dict[str, Any], key: str, where: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{where}: {key!r} is not a version number")
    return value


def read_checksum(document: dict[str, Any], where: str) -> str:
    value = document.get("checksum")
    if not isinstance(value, str) or ":" not in value:
        raise ProtocolError(f"{where}: 'checksum' is missing or malformed")
    scheme, _, digest = value.partition(":")
    if scheme != "sha256":
        raise IncompatibleServer(f"{where}: the server uses checksum scheme {scheme!r}, which this client "
                                 f"does not know; upgrade the sitealert package")
    if not _HEX64.fullmatch(digest):
        raise ProtocolError(f"{where}: 'checksum' is not a SHA-256 digest")
    return value


def _strings(value: object, key: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        try:
            return _codes(tuple(value))
        except (TypeError, ValueError):  # an unhashable or an invalid element
            pass
    raise ProtocolError(f"{where}: {key!r} is not a list of codes")


@functools.lru_cache(maxsize=4096)
def _codes(values: tuple[object, ...]) -> tuple[str, ...]:
    """Country or category codes, checked and sorted once per distinct list: ten thousand changes
    carry a handful of distinct lists, and checking each again was a third of an incremental sync."""
    if not all(isinstance(v, str) and v and "," not in v and not _FORBIDDEN_IN_FIELDS.search(v) for v in values):
        raise ValueError(values)
    return tuple(sorted(set(values)))  # type: ignore[arg-type]  # all str, checked above


def _target(entry: object, where: str) -> str:
    if not isinstance(entry, dict):
        raise ProtocolError(f"{where} is not an object")
    target = entry.get("target")
    if not isinstance(target, str) or not target or not target.isascii() or not target.isprintable() \
            or " " in target:
        raise ProtocolError(f"{where}: {target!r} is not a canonical target")
    return target


def _listed_entry(entry: Any, where: str) -> tuple[str, EntryFields]:
    target = _target(entry, where)
    kind = entry.get("kind")
    if not isinstance(kind, str) or not kind or _FORBIDDEN_IN_FIELDS.search(kind):
        kind = "app" if target.startswith(("android:", "ios:")) else "domain"
    first = entry.get("first_listed_at")
    if not isinstance(first, str) or _FORBIDDEN_IN_FIELDS.search(first):
        first = None
    where_target = f"{where} ({target})"
    return target, (kind, _strings(entry.get("countries"), "countries", where_target),
                    _strings(entry.get("categories"), "categories", where_target), first)


class _CsvParser:
    """The full list as the server's csv (target, kind, countries, categories, first_listed_at;
    lists space-separated; sorted by target), parsed a chunk at a time into a generation writer
    while its SPEC §4 checksum is computed: memory stays bounded whatever the list's size."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.count = 0
        self.combos: list[generation.StoredCombo] = []
        self._combo_index: dict[tuple[str, str, str], int] = {}
        self._combo_keys: dict[bytes, int] = {}  # b"kind,countries,categories" -> index, for the C parser
        self._carry = b""
        self._header_seen = False
        self._previous = ""
        self._digest = hashlib.sha256()
        self._parents = rule_parents()

    @property
    def checksum(self) -> str:
        return "sha256:" + self._digest.hexdigest()

    def feed(self, chunk: bytes, writer: generation.Writer) -> None:
        data = self._carry + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._carry = data
            return
        self._carry = data[cut + 1:]
        self._chunk(data[:cut + 1], writer)

    def close(self, writer: generation.Writer) -> None:
        if self._carry:
            self._chunk(self._carry + b"\n", writer)
            self._carry = b""
        if not self._header_seen:
            raise ProtocolError(f"{self.where}: the csv document is empty")

    def _combo(self, key: tuple[str, str, str], target: str) -> int:
        kind, countries, categories = key
        where = f"{self.where} ({target})"
        if not kind or _FORBIDDEN_IN_FIELDS.search(kind):
            raise ProtocolError(f"{where}: 'kind' is missing or malformed")
        combo = (kind, _strings(countries.split(), "countries", where),
                 _strings(categories.split(), "categories", where))
        index = self._combo_index[key] = len(self.combos)
        if index > generation.COMBO_MASK:
            raise ProtocolError(f"{self.where}: too many distinct (countries, categories) combinations")
        self.combos.append(combo)
        return index

    def _chunk(self, data: bytes, writer: generation.Writer) -> None:
        """Complete lines (data ends with a newline): plain ones in C when the accelerator is
        built, any other line (quoted, a new combination, an error to explain) here."""
        offset = 0
        if not self._header_seen:
            offset = data.index(b"\n") + 1
            self._lines(data[:offset - 1], writer)
        parse = generation.csv_parser()
        while offset < len(data):
            if parse is not None:
                offset, records, text, count, previous, stop = parse(
                    data, offset, self._previous.encode("ascii"), self._combo_keys, self._parents)
                if count:
                    self._digest.update(text)
                    writer.add(records)
                    self.count += count
                    self._previous = previous.decode("ascii")
                if stop == 0:
                    break
                end = data.index(b"\n", offset)
                self._lines(data[offset:end], writer)  # one line
                offset = end + 1
            else:
                self._lines(data[offset:-1], writer)
                break

    def _lines(self, data: bytes, writer: generation.Writer) -> None:
        try:
            lines = data.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            raise ProtocolError(f"{self.where}: the csv document is not UTF-8") from None
        if not self._header_seen:
            header = lines.pop(0).rstrip("\r")
            if header != _CSV_HEADER:
                raise ProtocolError(f"{self.where}: the csv document does not start with {_CSV_HEADER!r}")
            self._header_seen = True
            return
        targets: list[str] = []
        metas: list[int] = []
        firsts: list[int] = []
        previous, parents, combo_index = self._previous, self._parents, self._combo_index
        first_seconds, risky = generation.first_seconds, generation.RISKY
        for line in lines:
            fields = line.split(",")
            if len(fields) != 5 or '"' in line:
                fields = next(csv.reader([line]), [])
                if len(fields) != 5:
                    raise ProtocolError(f"{self.where}: line {self.count + len(targets) + 2} does not have "
                                        f"five columns")
            target, kind, countries, categories, first = fields
            if target <= previous or not target.isascii() or not target.isprintable() or " " in target:
                what = "is out of order or appears twice" if target and target <= previous else \
                    "is not a canonical target"
                raise ProtocolError(f"{self.where}: {target!r} {what}")
            key = (kind, countries, categories)
            index = combo_index.get(key)
            if index is None:
                index = self._combo(key, target)
                if len(fields) == 5 and '"' not in line:  # plain: the C parser's key from now on
                    self._combo_keys[line.split(",", 1)[1].rsplit(",", 1)[0].encode("utf-8")] = index
            if target in parents and ":" not in target:
                index |= risky
            targets.append(target)
            metas.append(index)
            firsts.append(first_seconds(first) if first else 0)
            previous = target
        self._previous = previous
        if targets:
            self._digest.update(("\n".join(targets) + "\n").encode("ascii"))
            writer.add_entries(targets, metas, firsts)
            self.count += len(targets)


# -- the sync ----------------------------------------------------------------------------------


class ResyncNeeded(Exception):
    """The source cannot take the replica forward from its version: download the whole list."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_changes(document: dict[str, Any], since: int, where: str,
                 collected: dict[str, EntryFields | None]) -> tuple[int, str, bool]:
    """Collect one changes document (the body of ``/api/v1/feed/changes?since=N``, or a mirror's
    delta, which is that body) into collected (target -> entry, None: no longer listed).
    Returns (version, checksum, more)."""
    if read_version(document, "since", where) != since:
        raise ProtocolError(f"{where}: the answer is for since={document.get('since')}")
    new_version = read_version(document, "version", where)
    if new_version < since:
        raise ProtocolError(f"{where}: version {new_version} is older than {since}")
    checksum = read_checksum(document, where)
    changes = document.get("changes")
    if not isinstance(changes, list):
        raise ProtocolError(f"{where}: 'changes' is not a list")
    for position, change in enumerate(changes):
        here = f"{where} change {position}"
        listed = change.get("listed") if isinstance(change, dict) else None
        if listed is True:
            target, value = _listed_entry(change, here)
            collected[target] = value
        elif listed is False:
            target = _target(change, here)
            collected[target] = None
        else:
            raise ProtocolError(f"{here}: 'listed' is neither true nor false")
    more = document.get("more", False)
    if more is not True and more is not False:
        raise ProtocolError(f"{where}: 'more' is neither true nor false")
    if more and new_version <= since:
        raise ProtocolError(f"{where}: 'more' is true but the version did not advance")
    return new_version, checksum, more


def _incremental(feed: _Feed, since: int, collected: dict[str, EntryFields | None],
                 etag_state: dict[str, Any]) -> tuple[int, str, str | None, str] | None:
    """Collect the changes since `since` into collected (target -> entry, None: no longer listed).
    Returns (version, checksum, etag, the request the ETag belongs to), or None when the server
    answered 304 Not Modified."""
    version = since
    while True:
        params = {"since": str(version)}
        url_key = f"{CHANGES}?since={version}"
        sent_etag = etag_state.get("etag") if etag_state.get("etag_url") == url_key else None
        response = feed.get(CHANGES, params=params, etag=sent_etag)
        where = f"{feed.base}{url_key}"
        if response.status_code == 304:
            if version == since:
                return None
            raise ProtocolError(f"{where}: 304 Not Modified in the middle of a paged answer")
        if response.status_code == 410:
            raise ResyncNeeded(f"the server's change history no longer reaches version {since} (HTTP 410)")
        if response.status_code == 400:
            said = _server_says(response)
            raise ReplicaAhead(
                f"{feed.base} refused changes since version {version} (HTTP 400{': ' + said if said else ''}): "
                f"the replica is ahead of the server, which was restored from an older backup or is another "
                f"installation; run 'sitealert sync --full' to replace the replica with the server's list")
        new_version, checksum, more = read_changes(feed.document(response), version, where, collected)
        if more:
            version = new_version
            continue
        # The ETag belongs to this request: it is worth sending again only if the next poll asks the
        # same question, i.e. when nothing changed.
        return new_version, checksum, response.headers.get("ETag"), url_key


def convert_format_1(path: Path) -> bool:
    """Rewrite a format-1 replica (its list in one tab-separated file, sorted: target, kind,
    countries and categories comma-separated, first_listed_at) as a base generation of the same
    version, and name it in a format-2 manifest, crash-safely as a sync does: the sync then goes on
    from that version instead of downloading the list. The file is streamed through the full
    sync's csv parser and must match its manifest's SHA-256, count and list checksum. False if the
    replica is not format 1; ReplicaDamaged if its file does not hold what its manifest says (the
    sync then downloads the list). The caller holds the sync lock."""
    old = store.read_old_manifest(path)
    if old is None:
        return False
    name = old["data"]
    parser = _CsvParser(name)
    digest = hashlib.sha256()

    def fill(writer: generation.Writer) -> generation.Header:
        parser.feed((_CSV_HEADER + "\n").encode("ascii"), writer)
        carry = b""
        with open(path / name, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                parser.feed(_tsv_as_csv(data[:cut], name), writer)
        if carry:
            raise ReplicaDamaged(f"{name} does not end with a whole line")
        parser.close(writer)
        if digest.hexdigest() != old["data_sha256"] or parser.count != old["count"] \
                or parser.checksum != old["checksum"]:
            raise ReplicaDamaged(f"{name} does not hold the list its manifest describes")
        return writer.finish(parser.combos, old["checksum"], count_hint=parser.count)

    try:
        base, sha256, header = store.write_generation(path, old["version"], generation.BASE, fill)
    except FileNotFoundError:
        raise ReplicaDamaged(f"the data file {name} is missing") from None
    except OSError as exc:
        raise ReplicaDamaged(f"cannot read {name}: {exc.strerror}") from None
    except (ProtocolError, ValueError) as exc:
        raise ReplicaDamaged(f"{name} cannot be converted: {exc}") from None
    kept = {key: old[key] for key in ("server", "checked_at", "synced_at", "etag", "etag_url") if key in old}
    store.write_manifest(path, store.new_manifest(old["version"], old["checksum"], header.total, (base, sha256),
                                                  None, old, **kept))
    return True


def _tsv_as_csv(data: bytes, name: str) -> bytes:
    """Whole lines of a format-1 file as the server's csv lines (lists space-separated)."""
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise ReplicaDamaged(f"{name} is not UTF-8") from None
    out = []
    for line in lines[:-1]:
        fields = line.split("\t")
        if len(fields) != 5 or any("," in field or '"' in field for field in (fields[0], fields[1], fields[4])):
            raise ReplicaDamaged(f"{name} has a malformed line")
        target, kind, countries, categories, first = fields
        out.append(f"{target},{kind},{countries.replace(',', ' ')},{categories.replace(',', ' ')},{first}\n")
    return "".join(out).encode("utf-8")


def _why_full(manifest: dict[str, Any] | None, damage: str | None, full: bool) -> str | None:
    if full:
        return "requested"
    if damage:
        return f"the replica was damaged: {damage}"
    if manifest is None:
        return "new replica"
    return None


def _matcher_over(snapshot: store.Snapshot, overlay: generation.Generation | None = None) -> Matcher:
    """A matcher over a snapshot's files (the C table when built: the pure one reads everything)."""
    return Matcher.over(snapshot.base, overlay)


def write_base(path: Path, chunks: Iterable[bytes], where: str, version: int, checksum: str,
               old_version: int) -> tuple[str, str, generation.Header]:
    """Stream the csv list (the body of ``/api/v1/feed?format=csv``, from the server or a mirror)
    into a new base file, checked against its SPEC §4 checksum; (file name, SHA-256, header)."""
    parser = _CsvParser(where)

    def fill(writer: generation.Writer) -> generation.Header:
        for chunk in chunks:
            parser.feed(chunk, writer)
        parser.close(writer)
        if parser.checksum != checksum:
            raise ChecksumMismatch(f"the full list from {where} (version {version}) does not match the "
                                   f"checksum announced for it; the replica keeps version {old_version}. "
                                   f"Report this to the server's operator.")
        try:
            return writer.finish(parser.combos, checksum, count_hint=parser.count)
        except ValueError as exc:
            raise ProtocolError(f"{where}: {exc}") from None

    return store.write_generation(path, version, generation.BASE, fill)


class Source:
    """Where a sync reads the list from: the server's feed API (`ApiSource`) or a signed mirror
    (`sitealert.client.mirror`). `run_sync` does the rest, the same for both: the decision between
    incremental and full, the overlay or the new base, the checksum, the manifest."""

    identity = ""  # recorded as the manifest's "server"

    def why_full(self, manifest: dict[str, Any]) -> str | None:
        """Why this source cannot take the replica forward incrementally, or None."""
        return None

    def changes(self, since: int, collected: dict[str, EntryFields | None],
                manifest: dict[str, Any]) -> tuple[int, str, dict[str, Any]] | None:
        """Collect the changes since `since` into collected; (version, checksum, manifest fields),
        or None when nothing changed (the manifest's fields stay). ResyncNeeded: download the list."""
        raise NotImplementedError

    def full(self, path: Path, old_version: int) -> tuple[int, str, str, str, generation.Header, dict[str, Any]]:
        """Write the whole list as a new base (write_base); (version, checksum, file name, SHA-256,
        header, manifest fields)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class ApiSource(Source):
    """The server's feed API: ``/api/v1/feed/changes?since=N`` (paged, conditional) and
    ``/api/v1/feed?format=csv``, over httpx with retries."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0, retries: int = 4, backoff: float = 0.5,
                 transport: "httpx.BaseTransport | None" = None) -> None:
        self.identity = base_url(url)
        self.feed = _Feed(self.identity, token, timeout=timeout, retries=retries, backoff=backoff,
                          transport=transport)

    def why_full(self, manifest: dict[str, Any]) -> str | None:
        if manifest.get("server") not in (None, self.identity):
            return f"the replica was synced from another server ({manifest.get('server')})"
        return None

    def changes(self, since: int, collected: dict[str, EntryFields | None],
                manifest: dict[str, Any]) -> tuple[int, str, dict[str, Any]] | None:
        outcome = _incremental(self.feed, since, collected, manifest)
        if outcome is None:
            return None
        new_version, checksum, etag, etag_url = outcome
        return new_version, checksum, {"etag": etag, "etag_url": etag_url}

    def full(self, path: Path, old_version: int) -> tuple[int, str, str, str, generation.Header, dict[str, Any]]:
        feed = self.feed
        where = f"{feed.base}{FEED}?format=csv"
        response = feed.get(FEED, params={"format": "csv"}, stream=True, accept="text/csv")
        try:
            if response.status_code != 200:
                raise ProtocolError(f"{where} answered HTTP {response.status_code}")
            kind = response.headers.get("Content-Type", "no content type")
            if not kind.startswith("text/csv"):
                raise ProtocolError(f"{where} answered something that is not a csv list ({kind}): "
                                    f"is this a SiteAlert server?")
            version_text = response.headers.get("X-SiteAlert-Version", "")
            if not version_text.isascii() or not version_text.isdigit() or len(version_text) > 30:
                raise ProtocolError(f"{where}: 'X-SiteAlert-Version' is not a version number")
            version = int(version_text)
            checksum = read_checksum({"checksum": response.headers.get("X-SiteAlert-Checksum")}, where)

            def chunks() -> Iterator[bytes]:
                try:
                    yield from response.iter_bytes(1 << 20)
                except feed.httpx.TransportError as exc:
                    raise ServerUnreachable(f"the download of {where} broke off: {exc or type(exc).__name__}; "
                                            f"try again") from None
                except feed.httpx.DecodingError:
                    raise ProtocolError(f"{where}: the compressed body is damaged") from None

            name, sha256, header = write_base(path, chunks(), where, version, checksum, old_version)
        finally:
            response.close()
        return version, checksum, name, sha256, header, {"etag": None, "etag_url": None}

    def close(self) -> None:
        self.feed.close()


@dataclass
class _Written:
    """A new version on disk, not yet named by the manifest."""

    version: int
    checksum: str
    count: int
    base: tuple[str, str]
    overlay: tuple[str, str] | None
    matcher: Matcher


def _apply_changes(path: Path, snapshot: store.Snapshot, old: Matcher, changes: dict[str, EntryFields | None],
                   version: int, checksum: str) -> tuple[_Written, list[str], list[str], list[str]]:
    """Write base ⊕ (old overlay ⊕ changes) as a new overlay (never a new base: compaction is its
    own step, store.compact); verify the checksum of the merged list first. Python touches only the changes;
    the overlays are merged, and the checksum computed over base ⊕ overlay, in C (a megabyte at a
    time, no list built)."""
    base, overlay = snapshot.base, snapshot.overlay
    combos = list((overlay or base).combos)
    combo_index = {combo: index for index, combo in enumerate(combos)}
    parents = rule_parents()
    records: dict[str, tuple[int, int]] = {}  # the new state of each changed target (or a tombstone)
    added, removed, updated = [], [], []
    for position, (target, value) in enumerate(changes.items()):
        if position % 32 == 31:
            snapshot.release()  # keep the pages these lookups map from piling up in this process
        before = old.record(target)
        after: tuple[int, int] | None = None
        if value is None:
            records[target] = (generation.TOMBSTONE, 0)
        else:
            kind, countries, categories, first = value
            combo = (kind, countries, categories)
            index = combo_index.get(combo)
            if index is None:
                index = combo_index[combo] = len(combos)
                combos.append(combo)
            after = records[target] = (
                index | (generation.RISKY if target in parents and ":" not in target else 0),
                generation.first_seconds(first))
        if before is None and after is not None:
            added.append(target)
        elif before is not None and after is None:
            removed.append(target)
        elif before is not None and after is not None and before != after:
            updated.append(target)
    snapshot.release()
    count = (overlay or base).header.total + len(added) - len(removed)
    targets = sorted(records)
    data = generation.encode(targets, [records[t][0] for t in targets], [records[t][1] for t in targets])
    size = len(targets)
    if overlay is not None:  # old overlay ⊕ changes, the changes' tombstones kept
        change_set = generation.from_bytes(generation.build(data, combos, checksum, kind=generation.OVERLAY,
                                                            total=count))
        parts: list[bytes] = []
        size = Matcher.over(overlay, change_set).feed(parts.append, records=True, keep_tombstones=True)
        data = b"".join(parts)
    new_overlay = generation.from_bytes(generation.build(data, combos, checksum, kind=generation.OVERLAY,
                                                         total=count))
    merged = Matcher.over(base, new_overlay)
    if store.list_checksum(merged) != checksum:
        raise ResyncNeeded(f"the changes from version {snapshot.manifest['version']} to {version} did not "
                           f"reproduce the announced checksum")

    def write_overlay(writer: generation.Writer) -> generation.Header:
        writer.add(data)
        return writer.finish(combos, checksum, total=count, count_hint=size)

    name, sha256, _header = store.write_generation(path, version, generation.OVERLAY, write_overlay)
    written = _Written(version, checksum, count, (snapshot.manifest["data"], snapshot.manifest["data_sha256"]),
                       (name, sha256), merged)
    return written, sorted(added), sorted(removed), sorted(updated)


def _differences(old: Matcher | None, old_combos: list[generation.StoredCombo], new: Matcher,
                 new_combos: list[generation.StoredCombo]) -> tuple[list[str], list[str], list[str]]:
    if old is None or len(old) == 0:
        return list(new), [], []
    new_index = {combo: index for index, combo in enumerate(new_combos)}
    return diff(old, new, [new_index.get(combo, -1) for combo in old_combos])


def sync_replica(replica: "Replica", url: str, token: str, *, full: bool = False, timeout: float = 30.0,
                 retries: int = 4, backoff: float = 0.5, transport: "httpx.BaseTransport | None" = None) -> SyncResult:
    """Bring `replica` to the server's current version; return what happened.

    url: the server's base address (https://alert.example.org). token: an API token of an
    authorized user. full: download the whole list even if changes would do. retries, backoff:
    extra attempts after a connection failure, timeout, 429 or 5xx, waiting backoff·2^n seconds
    (with jitter, at most 60 s, longer if the server says Retry-After). transport: an httpx
    transport (proxies, custom TLS).

    A full download streams the csv list into a new base file (memory bounded by the hash
    table's slots, 16 bytes an entry); an incremental one writes a new overlay from the changes.
    Either is verified against the server's checksum before the manifest names it. A sync never
    compacts: result.compaction_due says when Replica.compact() should merge the overlay into a
    new base (``sitealert sync`` does it after the sync).

    Raises a SyncError subclass (AuthError, ServerUnreachable, ServerError, ProtocolError,
    IncompatibleServer, ReplicaAhead, ChecksumMismatch, SyncInProgress) and then leaves the
    replica exactly as it was.
    """
    if replica.path is None:
        raise TypeError("an in-memory replica (Replica.from_targets) cannot sync")
    source = ApiSource(url, token, timeout=timeout, retries=retries, backoff=backoff, transport=transport)
    return run_sync(replica, source, full=full)


def run_sync(replica: "Replica", source: Source, *, full: bool = False) -> SyncResult:
    """Bring `replica` to `source`'s current version (see sync_replica); closes the source."""
    started = time.monotonic()
    path = replica.path
    if path is None:
        source.close()
        raise TypeError("an in-memory replica (Replica.from_targets) cannot sync")
    try:
        with store.sync_lock(path):
            damage = None
            snapshot: store.Snapshot | None = None
            old: Matcher | None = None
            converted = False
            try:
                converted = convert_format_1(path)
                snapshot = store.open_snapshot(path)
                if snapshot is not None:
                    old = _matcher_over(snapshot, snapshot.overlay)
            except (ReplicaDamaged, ValueError) as exc:
                snapshot, old, damage = None, None, str(exc)
            manifest = snapshot.manifest if snapshot is not None else None
            old_version = manifest["version"] if manifest else 0
            # What the replica found damaged when it opened: its format, if just converted.
            reason = _why_full(manifest, damage or (None if converted else replica.damaged), full)
            if reason is None:
                assert manifest is not None, "_why_full sends a replica without a manifest to a full download"
                reason = source.why_full(manifest)
            added: list[str] = []
            removed: list[str] = []
            updated: list[str] = []
            written: _Written | None = None
            fields: dict[str, Any] = {}
            mode = "full"
            if reason is None:
                assert manifest is not None and snapshot is not None and old is not None, \
                    "_why_full sends a replica without a manifest to a full download"
                changes: dict[str, EntryFields | None] = {}
                try:
                    outcome = source.changes(old_version, changes, manifest)
                    if outcome is None:
                        new_version, checksum = old_version, manifest["checksum"]
                        mode = "unchanged"
                    else:
                        new_version, checksum, fields = outcome
                        if not changes and new_version == old_version and checksum == manifest["checksum"]:
                            mode = "unchanged"
                        else:
                            written, added, removed, updated = _apply_changes(path, snapshot, old, changes,
                                                                              new_version, checksum)
                            mode = "incremental"
                except ResyncNeeded as exc:
                    reason = exc.reason
            if mode == "full":
                new_version, checksum, name, sha256, header, fields = source.full(path, old_version)
                generation_file = store.open_files(path, {"data": name, "checksum": checksum,
                                                          "count": header.total})
                new = Matcher.over(generation_file.base)
                written = _Written(new_version, checksum, header.total, (name, sha256), None, new)
                added, removed, updated = _differences(
                    old, (snapshot.overlay or snapshot.base).combos if snapshot is not None else [],
                    new, generation_file.base.combos)

            now = _now()
            fields = {"server": source.identity, "checked_at": now, **fields}
            if written is None:
                assert manifest is not None, "only a replica that has a manifest syncs incrementally"
                manifest = {**manifest, **fields}
                store.write_manifest(path, manifest)
                mode = "unchanged"
            else:
                fields["synced_at"] = now
                manifest = store.new_manifest(written.version, written.checksum, written.count, written.base,
                                              written.overlay, manifest, **fields)
                store.write_manifest(path, manifest)
            store.remove_debris(path, manifest)
    finally:
        source.close()

    replica._load()
    snapshot = replica._snapshot
    return SyncResult(compaction_due=snapshot is not None and store.compaction_due(snapshot),
                      old_version=old_version, new_version=new_version, mode=mode, added=tuple(added),
                      removed=tuple(removed), updated=tuple(updated), reason=reason or "", checksum=checksum,
                      seconds=time.monotonic() - started)
