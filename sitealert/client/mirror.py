"""sync_from_mirrors: bring a replica current from static mirrors of a signed distribution (issue 15).

A mirror is any HTTP(S) server, CDN or bucket that serves a tree written by ``sitealert publish``
(docs/distribution.md): ``metadata/`` holds The Update Framework's metadata (root, timestamp,
snapshot, targets), ``targets/`` the files it signs, under consistent-snapshot names. Nothing a
mirror serves is trusted until ``tuf.ngclient.Updater`` has checked it against the root pinned by
the caller: signatures by the keys root names, version numbers that never go back, expiry dates,
and each file's length and SHA-256. The trusted metadata is kept in ``<replica>/tuf/``, so
rollback and freeze protection hold across runs.

The flow: refresh the metadata, download and verify ``state.json`` (epoch, version, checksum, and
which lists and deltas exist); a replica at (epoch, S) for which the state names a delta
``deltas/E/S-V.json.gz`` downloads that one file, which is the body ``/api/v1/feed/changes?since=S``
returns, and applies it with the API sync's own reader and overlay writer; any other replica
downloads ``lists/E/V.csv.gz`` (the body of ``/api/v1/feed?format=csv``) and streams it into a new
base with the API sync's own code. The SPEC §4 checksum is verified as for the API, the replica's
crash safety is the same (sync.run_sync does the writing), and every refusal leaves the list as it
was. Mirrors are tried in order; the first that completes a sync wins.

tuf and urllib3 are loaded with this module, which the package imports only when a mirror sync runs.
"""

import gzip
import json
import os
import secrets
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import urllib3
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root
from tuf.ngclient import FetcherInterface, TargetFile, Updater, UpdaterConfig

from .errors import (
    AuthError,
    MirrorFrozen,
    MirrorIncomplete,
    MirrorRollback,
    MirrorVerificationError,
    ProtocolError,
    ServerError,
    ServerUnreachable,
    SyncError,
    SyncInProgress,
)
from .sync import (
    EntryFields,
    ResyncNeeded,
    Source,
    SyncResult,
    mirror_url,
    read_changes,
    read_checksum,
    read_version,
    run_sync,
    write_base,
)

if TYPE_CHECKING:
    from sitealert.matcher import generation

    from .replica import Replica

TUF_DIR = "tuf"
STATE = "state.json"
STATE_FORMAT = 1
CHUNK = 1 << 20
# A list's bytes arrive at whatever pace the mirror allows, but never for longer than this many times
# the timeout (which bounds the connection and each gap between bytes): a mirror that dribbles
# cannot hold a sync forever.
DEADLINE_FACTOR = 20
# The attacks come first when every mirror failed: they are what an operator must hear about.
_SERIOUSNESS = (MirrorVerificationError, MirrorRollback, MirrorFrozen, MirrorIncomplete)


def read_root(path: "str | os.PathLike[str]") -> bytes:
    """The bytes of a TUF root metadata file, checked to be one (ValueError says what is wrong)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read the trusted root {path}: {exc.strerror or exc}") from None
    try:
        Metadata[Root].from_bytes(data)
    except (tuf_errors.RepositoryError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path} is not TUF root metadata (root.json of a published tree): {exc}") from None
    return data


FEDERATION_KINDS = ("authorities", "listings")


@dataclass(frozen=True)
class FederationTargets:
    """state.json's "federation": the target paths of the documents a subscribing installation reads
    (the bodies of /api/v1/federation/listings?since=0 and ?since=S, and /federation/authorities)."""

    full: str
    authorities: str
    deltas: dict[str, str]  # since (as text) -> target path of the listings since then
    checksum: str = ""  # of the full listings document's set ("" in trees published before it)

    @classmethod
    def parse(cls, entry: Any, where: str) -> "FederationTargets":
        if not isinstance(entry, dict) or not isinstance(entry.get("full"), str) \
                or not isinstance(entry.get("authorities"), str):
            raise ProtocolError(f"{where}: 'federation' does not name its full and authorities documents")
        deltas = entry.get("deltas", {})
        if not isinstance(deltas, dict) or not all(isinstance(k, str) and k.isdigit() and isinstance(v, str)
                                                   for k, v in deltas.items()):
            raise ProtocolError(f"{where}: 'federation' 'deltas' is not an object of versions and paths")
        checksum = entry.get("checksum", "")
        if not isinstance(checksum, str):
            raise ProtocolError(f"{where}: 'federation' 'checksum' is not a string")
        return cls(full=entry["full"], authorities=entry["authorities"], deltas=deltas, checksum=checksum)


@dataclass(frozen=True)
class MirrorState:
    """state.json: what the mirror's signed tree holds now."""

    epoch: str
    version: int
    checksum: str
    count: int
    csv: str  # target path of the full list as csv.gz
    deltas: dict[str, str]  # since (as text) -> target path of the delta to `version`
    federation: FederationTargets | None = None  # None: a tree published before federation existed

    @classmethod
    def parse(cls, data: bytes, where: str) -> "MirrorState":
        try:
            document = json.loads(data)
        except ValueError:
            raise ProtocolError(f"{where} is not JSON") from None
        if not isinstance(document, dict):
            raise ProtocolError(f"{where} is not a JSON object")
        if document.get("format") != STATE_FORMAT:
            raise ProtocolError(f"{where} has format {document.get('format')!r}; this client reads format "
                                f"{STATE_FORMAT}: upgrade the sitealert package")
        epoch = document.get("epoch")
        if not isinstance(epoch, str) or not epoch or not epoch.isprintable():
            raise ProtocolError(f"{where}: 'epoch' is missing or malformed")
        lists, deltas = document.get("lists"), document.get("deltas", {})
        if not isinstance(lists, dict) or not isinstance(lists.get("csv"), str):
            raise ProtocolError(f"{where}: 'lists' names no csv list")
        if not isinstance(deltas, dict) or not all(isinstance(k, str) and k.isdigit() and isinstance(v, str)
                                                   for k, v in deltas.items()):
            raise ProtocolError(f"{where}: 'deltas' is not an object of versions and paths")
        federation = document.get("federation")
        return cls(epoch=epoch, version=read_version(document, "version", where),
                   checksum=read_checksum(document, where), count=read_version(document, "count", where),
                   csv=lists["csv"], deltas=deltas,
                   federation=None if federation is None else FederationTargets.parse(federation, where))


class _Fetcher(FetcherInterface):
    """tuf.ngclient's downloads over one urllib3 pool: bounded connect and read timeouts, a total
    deadline per file, the token as ``Authorization: Bearer`` (urllib3 drops it on a redirect to
    another host). Sizes are bounded by the caller: tuf passes each file's signed length."""

    def __init__(self, token: str | None, timeout: float) -> None:
        from sitealert.client import __version__

        headers = {"User-Agent": f"sitealert-client/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.deadline = timeout * DEADLINE_FACTOR
        self._pool = urllib3.PoolManager(
            headers=headers, timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=urllib3.Retry(total=3, connect=1, read=0, status=0, other=0, redirect=3))

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self._pool.request("GET", url, preload_content=False)
        except urllib3.exceptions.MaxRetryError as exc:
            reason = exc.reason
            if isinstance(reason, urllib3.exceptions.TimeoutError) and \
                    not isinstance(reason, urllib3.exceptions.NewConnectionError):  # which subclasses it
                raise tuf_errors.SlowRetrievalError(f"{url}: no answer in time") from None
            raise tuf_errors.DownloadError(f"{url}: {reason}") from None
        if response.status != 200:
            response.close()  # its body unread: the connection cannot serve another request
            raise tuf_errors.DownloadHTTPError(f"{url} answered HTTP {response.status}", response.status)
        return self._chunks(url, response)

    def _chunks(self, url: str, response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
        deadline = time.monotonic() + self.deadline
        complete = False
        try:
            # read1, not stream(): stream(CHUNK) waits for a whole megabyte, so a mirror that trickles a
            # file smaller than that was only timed once it had sent all of it.
            while chunk := response.read1(CHUNK):
                if time.monotonic() > deadline:
                    raise tuf_errors.SlowRetrievalError(f"{url}: still downloading after {self.deadline:.0f} s")
                yield chunk
            complete = True
        except urllib3.exceptions.TimeoutError:
            raise tuf_errors.SlowRetrievalError(f"{url}: the download stalled") from None
        except urllib3.exceptions.HTTPError as exc:
            raise tuf_errors.DownloadError(f"{url}: the download broke off ({exc})") from None
        finally:
            if complete:
                response.release_conn()
            else:  # abandoned mid-body (too long, too slow, refused): the connection goes with it
                response.close()

    def close(self) -> None:
        self._pool.clear()


@contextmanager
def verifying(where: str, what: str, keeps: str) -> Iterator[None]:
    """tuf's errors as the SDK's (MirrorVerificationError, MirrorFrozen, MirrorRollback,
    MirrorIncomplete, AuthError, ServerError, ServerUnreachable, ProtocolError), each saying where,
    what was refused and why, and what the caller `keeps`."""
    try:
        yield
    except tuf_errors.UnsignedMetadataError as exc:
        raise MirrorVerificationError(
            f"{where}: {what} is not signed by the keys the trusted root names ({exc}); {keeps}") from None
    except tuf_errors.ExpiredMetadataError as exc:
        raise MirrorFrozen(
            f"{where}: {what}: {exc}: the mirror stopped updating, or serves an old copy of the tree; "
            f"{keeps}") from None
    except tuf_errors.BadVersionNumberError as exc:
        raise MirrorRollback(
            f"{where}: {what}: {exc}: the mirror serves metadata older than what this client has "
            f"already verified (a rollback); {keeps}") from None
    except tuf_errors.LengthOrHashMismatchError as exc:
        raise MirrorVerificationError(
            f"{where}: {what} was modified or truncated ({exc}); {keeps}") from None
    except tuf_errors.RepositoryError as exc:
        raise MirrorVerificationError(f"{where}: {what} failed verification ({exc}); {keeps}") from None
    except tuf_errors.DownloadLengthMismatchError as exc:
        raise MirrorVerificationError(
            f"{where}: {what} is longer than its signed length ({exc}); {keeps}") from None
    except tuf_errors.DownloadHTTPError as exc:
        status = exc.status_code
        if status in (401, 403):
            raise AuthError(f"{where} refused access to {what} (HTTP {status}); check --token: a mirror "
                            f"served by a SiteAlert server needs an authorized user's feed token") from None
        if status == 404:
            raise MirrorIncomplete(
                f"{where} lacks {what} ({exc}): a partial copy of the tree, dropped files, or not a mirror "
                f"at this address; {keeps}") from None
        if status == 429 or status >= 500:
            raise ServerError(f"{where} answered HTTP {status} for {what}; try again later") from None
        raise ProtocolError(f"{where} answered HTTP {status} for {what}") from None
    except tuf_errors.SlowRetrievalError as exc:
        raise ServerUnreachable(f"{where}: {what} timed out ({exc}); check the address and the network") \
            from None
    except tuf_errors.DownloadError as exc:
        cause = exc.__cause__ or exc
        raise ServerUnreachable(f"{where}: could not download {what} ({cause}); check the address and the "
                                f"network") from None


class MirrorSource(Source):
    """One mirror, as a sync.Source: every file it yields has been verified against the trusted root."""

    def __init__(self, path: Path, url: str, root: bytes | None, token: str | None, *, timeout: float) -> None:
        self.identity = self.url = url
        self.path = path
        self._root = root
        self._fetcher = _Fetcher(token, timeout)
        self._updater: Updater | None = None
        self._state: MirrorState | None = None

    # -- verification ----------------------------------------------------------------------------

    @contextmanager
    def _verifying(self, what: str) -> Iterator[None]:
        with verifying(f"mirror {self.url}", what, "the replica keeps its last verified version"):
            yield

    def _refreshed(self) -> Updater:
        if self._updater is None:
            directory = self.path / TUF_DIR
            directory.mkdir(exist_ok=True)
            config = UpdaterConfig(prefix_targets_with_hash=True)
            with self._verifying("the trusted root"):
                try:
                    updater = Updater(str(directory), self.url + "metadata/", None, self.url + "targets/",
                                      self._fetcher, config, bootstrap=self._root)
                except OSError:
                    raise MirrorVerificationError(
                        f"no trusted root in {directory}: the first sync from a mirror needs the root "
                        f"metadata that pins the trust (--root ROOT_JSON)") from None
            with self._verifying("the metadata"):
                updater.refresh()
            self._updater = updater
        return self._updater

    def _info(self, target_path: str) -> TargetFile:
        """What the signed metadata says of a target: its length and hashes."""
        updater = self._refreshed()
        with self._verifying(f"the metadata for {target_path}"):
            info = updater.get_targetinfo(target_path)
        if info is None:
            raise MirrorIncomplete(f"mirror {self.url}: the signed metadata does not list {target_path}")
        return info

    @contextmanager
    def _target(self, info: TargetFile) -> Iterator[Path]:
        """A verified target file, downloaded next to the replica's files (removed afterwards)."""
        temporary = self.path / f"mirror-{secrets.token_hex(4)}.tmp"
        try:
            with self._verifying(info.path):
                self._refreshed().download_target(info, str(temporary))
            yield temporary
        finally:
            temporary.unlink(missing_ok=True)

    def state(self) -> MirrorState:
        """state.json, verified; kept in tuf/ so that an idle poll downloads only the timestamp."""
        if self._state is None:
            info = self._info(STATE)
            kept = self.path / TUF_DIR / STATE
            if self._refreshed().find_cached_target(info, str(kept)) is None:
                with self._target(info) as file:
                    file.replace(kept)
            self._state = MirrorState.parse(kept.read_bytes(), f"mirror {self.url}: {STATE}")
        return self._state

    def _fields(self) -> dict[str, Any]:
        return {"epoch": self.state().epoch, "etag": None, "etag_url": None}

    # -- the Source ------------------------------------------------------------------------------

    def why_full(self, manifest: dict[str, Any]) -> str | None:
        state = self.state()
        if manifest.get("epoch") is None:
            return "the replica's version was not read from a signed mirror of this list"
        if manifest["epoch"] != state.epoch:
            return f"the list was reset since (epoch {state.epoch}; the replica's was {manifest['epoch']})"
        return None

    def changes(self, since: int, collected: dict[str, EntryFields | None],
                manifest: dict[str, Any]) -> tuple[int, str, dict[str, Any]] | None:
        state = self.state()
        if state.version < since:
            raise MirrorRollback(f"mirror {self.url} holds version {state.version} of the list, older than the "
                                 f"replica's {since}: the mirror lags behind or replays an old tree; the replica "
                                 f"keeps version {since} (if the list itself was restored to an older version, "
                                 f"a full sync takes it)")
        if state.version == since:
            if state.checksum != manifest["checksum"]:
                raise ResyncNeeded(f"the mirror's version {since} does not have the replica's checksum")
            return since, state.checksum, self._fields()
        delta = state.deltas.get(str(since))
        if delta is None:
            raise ResyncNeeded(f"the mirror has no delta from version {since}")
        where = f"mirror {self.url}: {delta}"
        with self._target(self._info(delta)) as file:
            try:
                document = json.loads(gzip.decompress(file.read_bytes()))
            except (OSError, EOFError, zlib.error, ValueError):
                raise ProtocolError(f"{where} is not gzip-compressed JSON") from None
        if not isinstance(document, dict):
            raise ProtocolError(f"{where} is not a JSON object")
        version, checksum, more = read_changes(document, since, where, collected)
        if more or version != state.version or checksum != state.checksum:
            raise ProtocolError(f"{where} does not lead to version {state.version} with the checksum of "
                                f"{STATE}")
        return version, checksum, self._fields()

    def full(self, path: Path, old_version: int) -> tuple[int, str, str, str, "generation.Header", dict[str, Any]]:
        state = self.state()
        where = f"mirror {self.url}: {state.csv}"
        with self._target(self._info(state.csv)) as file, gzip.open(file, "rb") as stream:

            def chunks() -> Iterator[bytes]:
                try:
                    yield from iter(lambda: stream.read(CHUNK), b"")
                except (OSError, EOFError, zlib.error):
                    raise ProtocolError(f"{where} is not a gzip file") from None

            name, sha256, header = write_base(path, chunks(), where, state.version, state.checksum, old_version)
        return state.version, state.checksum, name, sha256, header, self._fields()

    def federation_document(self, kind: str, since: int | None = None) -> bytes:
        """A federation document of the mirror's current version, verified against the trusted root
        and decompressed: "authorities", or "listings" since `since` (None or 0: the full document).
        Its bytes are those /api/v1/federation/... sends. Raises MirrorIncomplete when the tree
        publishes no federation documents, ResyncNeeded when it has no delta from `since` (ask for
        the full document), the verification errors of a sync, ProtocolError for a file that is not
        gzip-compressed JSON."""
        if kind not in FEDERATION_KINDS:
            raise ValueError(f"unknown federation document {kind!r}: authorities or listings")
        state = self.state()
        if state.federation is None:
            raise MirrorIncomplete(f"mirror {self.url}: {STATE} names no federation documents (published by a "
                                   f"SiteAlert older than federation, or not an installation's tree)")
        if kind == "authorities":
            path = state.federation.authorities
        elif not since:
            path = state.federation.full
        else:  # a subscriber already at state().version has nothing to ask for
            path = state.federation.deltas.get(str(since), "")
        if not path:
            if since is not None and since > state.version:
                raise MirrorRollback(f"mirror {self.url} holds version {state.version} of the list, older than "
                                     f"the version {since} already applied: the mirror lags behind or replays an "
                                     f"old tree")
            raise ResyncNeeded(f"the mirror has no federation delta from version {since}")
        where = f"mirror {self.url}: {path}"
        with self._target(self._info(path)) as file:
            try:
                data = gzip.decompress(file.read_bytes())
                json.loads(data)
            except (OSError, EOFError, zlib.error, ValueError):
                raise ProtocolError(f"{where} is not gzip-compressed JSON") from None
        return data

    def close(self) -> None:
        self._fetcher.close()


def sync_from_mirrors(replica: "Replica", mirrors: str | Sequence[str], root: "str | os.PathLike[str] | None" = None,
                      token: str | None = None, *, full: bool = False, timeout: float = 30.0) -> SyncResult:
    """Bring `replica` current from the first of `mirrors` that completes a verified sync.

    mirrors: a mirror's base address (the directory that holds metadata/ and targets/, such as
    https://cdn.example.org/sitealert/ or https://alert.example.org/api/v1/mirror/), or several, tried
    in order. root: the TUF root metadata file that pins the trust (a published tree's
    metadata/1.root.json or root.json, obtained out of band); needed for the first sync, optional
    afterwards (the replica keeps the trusted metadata in <replica>/tuf/). token: sent as
    ``Authorization: Bearer`` (a SiteAlert server's own mirror needs a feed token; a static mirror
    usually none). full: download the whole list even if a delta would do. timeout: seconds for a
    connection and for each gap between bytes.

    Raises ValueError for an unusable argument (a bad address, a root file that is not TUF root
    metadata, no root for a first sync); a SyncError subclass when no mirror completes: a
    MirrorError (MirrorVerificationError, MirrorFrozen, MirrorRollback, MirrorIncomplete) when a
    mirror failed verification, else the transport's (ServerUnreachable, AuthError, ...). The
    replica keeps its last verified version on every failure. result.failed_mirrors lists the
    mirrors that failed before one succeeded.
    """
    path = replica.path
    if path is None:
        raise TypeError("an in-memory replica (Replica.from_targets) cannot sync")
    urls = [mirror_url(mirrors)] if isinstance(mirrors, str) else [mirror_url(url) for url in mirrors]
    if not urls:
        raise ValueError("no mirror given")
    pinned = read_root(root) if root is not None else None
    if pinned is None and not (path / TUF_DIR / "root.json").exists():
        raise ValueError(f"the replica at {path} has no trusted root yet: the first sync from a mirror needs "
                         f"the root metadata that pins the trust (--root ROOT_JSON)")
    failures: list[SyncError] = []
    for url in urls:
        try:
            result = run_sync(replica, MirrorSource(path, url, pinned, token, timeout=timeout), full=full)
        except SyncInProgress:
            raise
        except SyncError as exc:
            failures.append(exc)
            continue
        return replace(result, failed_mirrors=tuple(str(exc) for exc in failures))
    raise _worst(failures)


def _worst(failures: list[SyncError]) -> SyncError:
    """One error for mirrors that all failed: the class of the most serious (an attack first), the
    messages of all."""
    if len(failures) == 1:
        return failures[0]
    ranked = sorted(failures, key=lambda exc: next(
        (rank for rank, kind in enumerate(_SERIOUSNESS) if isinstance(exc, kind)), len(_SERIOUSNESS)))
    message = f"no mirror completed the sync: {'; then '.join(str(exc) for exc in failures)}"
    return type(ranked[0])(message)

