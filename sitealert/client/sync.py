"""sync_replica: bring a replica to the server's current version (SPEC §4), verified, crash-safe.

Incremental through ``/api/v1/feed/changes?since=N`` when the replica has a version; a full
``/api/v1/feed`` download for a new or damaged replica, when the server answers 410 (its history
no longer reaches N), when the changes do not reproduce the announced checksum, when the replica
was synced from another server, or on request. Every result is checked against the server's
checksum before it replaces anything on disk. Conditional requests (ETag / If-None-Match) make an
idle poll cost one small round trip. Connection failures, timeouts, 429 and 5xx answers are
retried with exponential backoff and jitter (honouring Retry-After).

httpx is imported only here, when a sync runs.
"""

import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

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
    """The HTTP side: one connection pool, retries with backoff, errors that say what to do."""

    def __init__(self, base: str, token: str, *, timeout: float, retries: int, backoff: float,
                 transport: "httpx.BaseTransport | None" = None) -> None:
        import httpx

        from sitealert.client import __version__

        self._httpx = httpx
        self.base = base
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                     "User-Agent": f"sitealert-client/{__version__}"},
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

    def get(self, path: str, params: dict[str, str] | None = None, etag: str | None = None) -> "httpx.Response":
        """The response (200, 304, 400 or 410); raises for everything else."""
        headers = {"If-None-Match": etag} if etag else {}
        where = self.base + path
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._client.get(path, params=params, headers=headers)
            except self._httpx.TransportError as exc:
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


def _version(document: dict[str, Any], key: str, where: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"{where}: {key!r} is not a version number")
    return value


def _checksum(document: dict[str, Any], where: str) -> str:
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
    if not isinstance(value, list) or not all(isinstance(v, str) and v and "," not in v
                                              and not _FORBIDDEN_IN_FIELDS.search(v) for v in value):
        raise ProtocolError(f"{where}: {key!r} is not a list of codes")
    return tuple(sorted(set(value)))


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


def _full_entries(document: dict[str, Any], where: str) -> Entries:
    raw = document.get("entries")
    if not isinstance(raw, list):
        raise ProtocolError(f"{where}: 'entries' is not a list")
    entries: Entries = {}
    for position, item in enumerate(raw):
        target, value = _listed_entry(item, f"{where} entry {position}")
        if target in entries:
            raise ProtocolError(f"{where}: {target} appears twice")
        entries[target] = value
    return entries


# -- the sync ----------------------------------------------------------------------------------


class _ResyncNeeded(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _incremental(feed: _Feed, since: int, entries: Entries,
                 etag_state: dict[str, Any]) -> tuple[int, str, str | None, str] | None:
    """Apply changes since `since` to entries (in place). Returns (version, checksum, etag, the
    request the ETag belongs to), or None when the server answered 304 Not Modified."""
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
            raise _ResyncNeeded(f"the server's change history no longer reaches version {since} (HTTP 410)")
        if response.status_code == 400:
            said = _server_says(response)
            raise ReplicaAhead(
                f"{feed.base} refused changes since version {version} (HTTP 400{': ' + said if said else ''}): "
                f"the replica is ahead of the server, which was restored from an older backup or is another "
                f"installation; run 'sitealert sync --full' to replace the replica with the server's list")
        document = feed.document(response)
        if _version(document, "since", where) != version:
            raise ProtocolError(f"{where}: the answer is for since={document.get('since')}")
        new_version = _version(document, "version", where)
        if new_version < version:
            raise ProtocolError(f"{where}: version {new_version} is older than {version}")
        checksum = _checksum(document, where)
        changes = document.get("changes")
        if not isinstance(changes, list):
            raise ProtocolError(f"{where}: 'changes' is not a list")
        for position, change in enumerate(changes):
            here = f"{where} change {position}"
            listed = change.get("listed") if isinstance(change, dict) else None
            if listed is True:
                target, value = _listed_entry(change, here)
                entries[target] = value
            elif listed is False:
                target = _target(change, here)
                entries.pop(target, None)
            else:
                raise ProtocolError(f"{here}: 'listed' is neither true nor false")
        etag = response.headers.get("ETag")
        more = document.get("more", False)
        if more is True:
            if new_version <= version:
                raise ProtocolError(f"{where}: 'more' is true but the version did not advance")
            version = new_version
            continue
        if more is not False:
            raise ProtocolError(f"{where}: 'more' is neither true nor false")
        # The ETag belongs to this request: it is worth sending again only if the next poll asks the
        # same question, i.e. when nothing changed.
        return new_version, checksum, etag, url_key


def _why_full(manifest: dict[str, Any] | None, damage: str | None, base: str, full: bool) -> str | None:
    if full:
        return "requested"
    if damage:
        return f"the replica was damaged: {damage}"
    if manifest is None:
        return "new replica"
    if manifest.get("server") not in (None, base):
        return f"the replica was synced from another server ({manifest.get('server')})"
    return None


def _rows_to_entries(rows: list[list[str]]) -> Entries:
    return {target: (kind, tuple(countries.split(",")) if countries else (),
                     tuple(categories.split(",")) if categories else (), first or None)
            for target, kind, countries, categories, first in rows}


def sync_replica(replica: "Replica", url: str, token: str, *, full: bool = False, timeout: float = 30.0,
                 retries: int = 4, backoff: float = 0.5, transport: "httpx.BaseTransport | None" = None) -> SyncResult:
    """Bring `replica` to the server's current version; return what happened.

    url: the server's base address (https://alert.example.org). token: an API token of an
    authorized user. full: download the whole list even if changes would do. retries, backoff:
    extra attempts after a connection failure, timeout, 429 or 5xx, waiting backoff·2^n seconds
    (with jitter, at most 60 s, longer if the server says Retry-After). transport: an httpx
    transport (proxies, custom TLS).

    Raises a SyncError subclass (AuthError, ServerUnreachable, ServerError, ProtocolError,
    IncompatibleServer, ReplicaAhead, ChecksumMismatch, SyncInProgress) and then leaves the
    replica exactly as it was.
    """
    started = time.monotonic()
    base = base_url(url)
    path = replica.path
    if path is None:
        raise TypeError("an in-memory replica (Replica.from_targets) cannot sync")
    with store.sync_lock(path):
        damage = None
        try:
            manifest, rows = store.read_snapshot(path)
        except ReplicaDamaged as exc:
            manifest, rows, damage = None, [], str(exc)
        old_entries = _rows_to_entries(rows)
        old_version = manifest["version"] if manifest else 0
        reason = _why_full(manifest, damage, base, full)
        feed = _Feed(base, token, timeout=timeout, retries=retries, backoff=backoff, transport=transport)
        try:
            etag_state: dict[str, Any] = {"etag": None, "etag_url": None}
            mode = "full"
            if reason is None:
                assert manifest is not None, "_why_full sends a replica without a manifest to a full download"
                entries = dict(old_entries)
                try:
                    outcome = _incremental(feed, old_version, entries, manifest)
                except _ResyncNeeded as exc:
                    reason = exc.reason
                else:
                    if outcome is None:
                        new_version, checksum = old_version, manifest["checksum"]
                        etag_state = {"etag": manifest.get("etag"), "etag_url": manifest.get("etag_url")}
                        mode = "unchanged"
                    else:
                        new_version, checksum, etag, etag_url = outcome
                        etag_state = {"etag": etag, "etag_url": etag_url}
                        if store.fast_checksum(sorted(entries)) == checksum:
                            mode = "incremental"
                        else:
                            reason = (f"the changes from version {old_version} to {new_version} did not "
                                      f"reproduce the server's checksum")
            if mode == "full":
                response = feed.get(FEED)
                where = feed.base + FEED
                if response.status_code != 200:
                    raise ProtocolError(f"{where} answered HTTP {response.status_code}")
                document = feed.document(response)
                new_version = _version(document, "version", where)
                checksum = _checksum(document, where)
                entries = _full_entries(document, where)
                if store.fast_checksum(sorted(entries)) != checksum:
                    raise ChecksumMismatch(f"the full list from {where} (version {new_version}) does not match "
                                           f"the checksum the server announced; the replica keeps version "
                                           f"{old_version}. Report this to the server's operator.")
                etag_state = {"etag": None, "etag_url": None}
        finally:
            feed.close()

        now = _now()
        fields = {"server": base, "checked_at": now, **etag_state}
        if mode == "unchanged" or (mode == "incremental" and entries == old_entries and new_version == old_version):
            assert manifest is not None, "only a replica that has a manifest syncs incrementally"
            manifest = {**manifest, **fields}
            store.write_manifest(path, manifest)
            mode = "unchanged"
        else:
            fields["synced_at"] = now
            manifest = store.write_snapshot(path, new_version, checksum, entries, manifest, **fields)
        store.remove_debris(path, manifest)

    added = tuple(sorted(t for t in entries if t not in old_entries)) if mode != "unchanged" else ()
    removed = tuple(sorted(t for t in old_entries if t not in entries)) if mode != "unchanged" else ()
    updated = tuple(sorted(t for t in entries if t in old_entries and entries[t] != old_entries[t])) \
        if mode != "unchanged" else ()
    replica._load()
    return SyncResult(old_version=old_version, new_version=new_version, mode=mode, added=added,
                      removed=removed, updated=updated, reason=reason or "", checksum=checksum,
                      seconds=time.monotonic() - started)
