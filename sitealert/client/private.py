"""PrivateChecker: check items against the aggregated list without revealing them (k-anonymity).

    from sitealert.client.private import PrivateChecker

    checker = PrivateChecker("https://alert.example.org")             # the public endpoint
    checker = PrivateChecker(mirror="https://cdn.example.net/sitealert/",   # or a signed static mirror
                             root="root.json", directory="/var/cache/sitealert-private")
    checker.check("https://video.example.com/watch")    # Match(target='example.com', countries=(), categories=())
    checker.check_many(items)                            # one answer per item, in order

For each item the checker computes the candidates the matcher would look up (its canonical target
and each parent down to the registrable domain: `sitealert.hosts.item_candidates`, the function the
matcher uses), hashes them with SHA-256 (`sitealert.hosts.target_digest`), and asks only for the
first hex digits of each hash: 4 from the endpoint (`GET /api/v1/hashes/{prefix}`), 1 to 3 from a
static mirror, as its `hashes/current.json` says (the shard `hashes/<epoch>/<version>/<prefix>`,
verified with TUF against the pinned root). The answers are the full hashes of the listed targets
under those prefixes; the checker compares locally and answers like a replica: the most specific
listed candidate, as a `Match` without countries or categories (the hashes carry none), or None.
Answers are kept per prefix for the list's version, for at most `max_age` seconds (the endpoint's
Cache-Control).

What the server (or mirror) learns: which prefixes were asked, that is 16 bits (4 to 12 from a
mirror) of each candidate's hash, a set shared by one in 65,536 (16 to 4,096) of all names. Domain
names are guessable: whoever holds a dictionary of names can hash it and learn which of them are
listed, so the hashes hide the queries and make bulk extraction of the list cost a dictionary
attack, no more (docs/client.md, "Private lookup").

httpx (the endpoint) and tuf.ngclient (a mirror) are imported only when the checker first asks.
"""

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sitealert.hosts import InvalidTarget, item_candidates, target_digest
from sitealert.matcher import Match

from .errors import MirrorIncomplete, ProtocolError
from .sync import _Feed, base_url

if TYPE_CHECKING:
    import httpx

API_PREFIX_HEX = 4
HASHES = "/api/v1/hashes/"
CURRENT = "hashes/current.json"
_HEX = frozenset("0123456789abcdef")


class _Answer:
    """The full hashes under one prefix at one version."""

    __slots__ = ("epoch", "version", "hashes", "fetched")

    def __init__(self, epoch: str, version: int, hashes: frozenset[str], fetched: float) -> None:
        self.epoch, self.version, self.hashes, self.fetched = epoch, version, hashes, fetched


def _answer(document: Any, prefix: str, where: str) -> _Answer:
    """The endpoint's (or a shard's) document checked: {"epoch", "version", "prefix", "hashes"}."""
    if not isinstance(document, dict):
        raise ProtocolError(f"{where} answered JSON that is not an object")
    epoch, version, hashes = document.get("epoch"), document.get("version"), document.get("hashes")
    if not isinstance(epoch, str) or not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ProtocolError(f"{where}: the answer lacks the list's epoch and version")
    if document.get("prefix") != prefix or not isinstance(hashes, list):
        raise ProtocolError(f"{where}: the answer is not the hashes of prefix {prefix}")
    for value in hashes:
        if not isinstance(value, str) or len(value) != 64 or not value.startswith(prefix) or not set(value) <= _HEX:
            raise ProtocolError(f"{where}: {str(value)[:70]!r} is not a SHA-256 under prefix {prefix}")
    return _Answer(epoch, version, frozenset(hashes), time.monotonic())


class _Endpoint:
    """Prefixes from GET /api/v1/hashes/{prefix} of a SiteAlert server (no token)."""

    prefix_hex = API_PREFIX_HEX

    def __init__(self, url: str, *, timeout: float, retries: int, backoff: float,
                 transport: "httpx.BaseTransport | None") -> None:
        self.where = base_url(url)
        self._feed = _Feed(self.where, None, timeout=timeout, retries=retries, backoff=backoff, transport=transport)

    def refresh(self) -> None:
        """Nothing to do: every answer names its version."""

    def fetch(self, prefix: str) -> _Answer:
        response = self._feed.get(HASHES + prefix)
        where = f"{self.where}{HASHES}{prefix}"
        if response.status_code != 200:
            raise ProtocolError(f"{where} answered HTTP {response.status_code}: is this a SiteAlert server "
                                f"with the private lookup?")
        return _answer(self._feed.document(response), prefix, where)

    def close(self) -> None:
        self._feed.close()


class _Mirror:
    """Shards of a static mirror (docs/distribution.md), each verified with TUF against the pinned
    root: hashes/current.json names the version's shards, hashes/<epoch>/<version>/<prefix>."""

    def __init__(self, mirror: str, root: str | Path, directory: str | Path) -> None:
        from tuf.ngclient import Updater, UpdaterConfig

        from .mirror import verifying

        self.where = mirror if mirror.endswith("/") else mirror + "/"
        self._metadata = Path(directory) / "tuf"
        self._shards = Path(directory) / "shards"
        self._metadata.mkdir(parents=True, exist_ok=True)
        self._shards.mkdir(exist_ok=True)
        if not (self._metadata / "root.json").exists():
            shutil.copyfile(root, self._metadata / "root.json")  # the pinned trust; newer roots replace it
        self._verifying = lambda what: verifying(f"mirror {self.where}", what, "nothing was answered")
        self._new_updater = lambda: Updater(str(self._metadata), self.where + "metadata/", str(self._shards),
                                            self.where + "targets/",
                                            config=UpdaterConfig(prefix_targets_with_hash=True), bootstrap=None)
        self._updater: Any = None
        self.current: dict[str, Any] = {}
        self.prefix_hex = 0

    def _download(self, path: str) -> bytes:
        with self._verifying(path):
            info = self._updater.get_targetinfo(path)
            if info is None:
                raise MirrorIncomplete(f"{self.where}: the signed metadata names no {path}; is the private "
                                       f"lookup published on this mirror?")
            with open(self._updater.download_target(info), "rb") as f:
                return f.read()

    def refresh(self) -> None:
        """Verify the mirror's newest metadata and read which shards are current."""
        with self._verifying("the metadata"):
            self._updater = self._new_updater()
            self._updater.refresh()
        try:
            current = json.loads(self._download(CURRENT))
        except ValueError:
            current = None
        if not isinstance(current, dict) or not isinstance(current.get("prefix_hex"), int) \
                or not isinstance(current.get("shards"), str):
            raise ProtocolError(f"{self.where}targets/{CURRENT} does not describe the shards")
        self.current, self.prefix_hex = current, current["prefix_hex"]
        for stale in self._shards.iterdir():  # shards of older versions
            stale.unlink(missing_ok=True)

    def fetch(self, prefix: str) -> _Answer:
        path = self.current["shards"] + prefix
        try:
            document = json.loads(self._download(path))
        except ValueError:
            raise ProtocolError(f"{self.where}: the shard {path} is not JSON") from None
        answer = _answer(document, prefix, self.where + path)
        if (answer.epoch, answer.version) != (self.current.get("epoch"), self.current.get("version")):
            raise ProtocolError(f"{self.where}: the shard {path} is of another version than {CURRENT} says")
        return answer

    def close(self) -> None:
        pass


class PrivateChecker:
    """Which items the aggregated list covers, asked by hash prefix: the items never leave this process.

    ``PrivateChecker(url)`` asks a SiteAlert server's public endpoint; ``PrivateChecker(mirror=URL,
    root=ROOT_JSON, directory=DIR)`` reads a signed static mirror's shards (TUF metadata kept in
    DIR/tuf, so rollback and freeze protection persist). ``check``/``check_many`` answer like
    ``Replica.check``: the most specific listed target covering the item as a ``Match`` (countries
    and categories empty: the hashes carry none), or None, also for input the normalizer refuses.
    ``version`` is the list's version of the answers last used.

    retries, backoff, timeout, transport: as ``Replica.sync`` (the endpoint is rate-limited per
    address; a 429 is retried after its Retry-After). max_age: seconds an answer is reused.
    """

    def __init__(self, url: str | None = None, *, mirror: str | None = None, root: str | Path | None = None,
                 directory: str | Path | None = None, max_age: float = 60.0, timeout: float = 10.0,
                 retries: int = 3, backoff: float = 0.5, transport: "httpx.BaseTransport | None" = None) -> None:
        if (url is None) == (mirror is None):
            raise ValueError("give either the server's url or a mirror (with root and directory)")
        if mirror is not None and (root is None or directory is None):
            raise ValueError("a mirror needs the pinned root metadata (root=) and a directory to keep it in")
        self._source: _Endpoint | _Mirror | None = None
        if url is not None:
            url = base_url(url)  # refused now if it is not an http(s) address
            self._connect: Callable[[], _Endpoint | _Mirror] = lambda: _Endpoint(
                url, timeout=timeout, retries=retries, backoff=backoff, transport=transport)
        else:
            assert mirror is not None and root is not None and directory is not None
            self._connect = lambda: _Mirror(mirror, root, directory)
        self.max_age = max_age
        self._answers: dict[str, _Answer] = {}
        self._lock = threading.Lock()
        self.version: int | None = None
        self._state: tuple[str, int] | None = None  # (epoch, version) of the answers kept
        self.requests = 0  # prefixes asked so far

    def _connected(self) -> "_Endpoint | _Mirror":
        if self._source is None:
            self._source = self._connect()
            self._source.refresh()
        return self._source

    def refresh(self) -> None:
        """Forget the answers kept (and, from a mirror, verify its newest metadata now)."""
        with self._lock:
            self._answers.clear()
            self._state = None
            if isinstance(self._source, _Mirror):
                self._source.refresh()

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> "PrivateChecker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def check(self, item: str) -> Match | None:
        """The most specific listed target covering item (raw URL, host or app id), or None."""
        return self.check_many([item])[0]

    def check_many(self, items: Iterable[str]) -> list[Match | None]:
        """check() for each item, in order; each prefix is asked once."""
        candidates: list[list[tuple[str, str]]] = []
        for item in items:
            if item is not None and not isinstance(item, str):
                raise TypeError(f"check() takes a str, not {type(item).__name__}")
            try:
                _target, covering = item_candidates(item)
            except InvalidTarget:
                candidates.append([])
                continue
            candidates.append([(candidate, target_digest(candidate).hex()) for candidate in covering])
        with self._lock:
            source = self._connected()
            answers = self._answers_for({digest[:source.prefix_hex] for row in candidates for _, digest in row},
                                        source)
        results: list[Match | None] = []
        for row in candidates:
            found = None
            for candidate, digest in row:
                if digest in answers[digest[:source.prefix_hex]].hashes:
                    found = Match(candidate, (), ())
                    break
            results.append(found)
        return results

    def _answers_for(self, prefixes: set[str], source: "_Endpoint | _Mirror") -> dict[str, _Answer]:
        """The answer of each prefix: kept ones while fresh, the others asked. When an answer comes
        from a newer version of the list, the answers kept from older ones are dropped and those
        needed asked again, so that one call answers from one version; an answer older than those
        kept (a cache on the way) is used once and not kept."""
        kept, answers = self._answers, {}
        for _attempt in range(3):
            now = time.monotonic()
            answers = {prefix: kept[prefix] for prefix in prefixes
                       if prefix in kept and now - kept[prefix].fetched <= self.max_age}
            moved = False
            for prefix in sorted(prefixes - answers.keys()):
                answer = answers[prefix] = source.fetch(prefix)
                self.requests += 1
                state = (answer.epoch, answer.version)
                if self._state is None or state[0] != self._state[0] or state[1] > self._state[1]:
                    moved = self._state is not None and bool(kept)
                    self._state = state
                    for older in [p for p, a in kept.items() if (a.epoch, a.version) != state]:
                        del kept[older]
                if state == self._state:
                    kept[prefix] = answer
            if not moved:
                break
        if self._state is not None:
            self.version = self._state[1]
        return answers
