"""SiteAlert client SDK: a verified local replica of the aggregated list, matched at memory speed.

    from sitealert.client import Replica, screen_bid_request

    replica = Replica("/var/lib/sitealert")             # empty at version 0 if new
    result = replica.sync("https://alert.example.org", token)   # incremental, verified, crash-safe
    replica.check("https://video.example.com/watch")    # Match(target='example.com', countries=…, categories=…)
    replica.check_many(hosts)                           # one answer per item, in order
    screen_bid_request(replica, openrtb_request)        # Verdict(blocked=…, field=…, match=…)

Importing this package loads neither Django nor any network library; httpx is imported when a
sync runs. See docs/client.md.
"""

from sitealert.matcher import Match

from .errors import (
    AuthError,
    ChecksumMismatch,
    ClientError,
    IncompatibleServer,
    MirrorError,
    MirrorFrozen,
    MirrorIncomplete,
    MirrorRollback,
    MirrorVerificationError,
    ProtocolError,
    ReplicaAhead,
    ReplicaDamaged,
    ServerError,
    ServerUnreachable,
    SyncError,
    SyncInProgress,
)
from .replica import Replica
from .screening import Verdict, screen_bid_request
from .sync import SyncResult


def __getattr__(name: str) -> str:
    # importlib.metadata pulls in email and socket: read the version only when someone asks.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("sitealert")
        except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
            return "0"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "AuthError",
    "ChecksumMismatch",
    "ClientError",
    "IncompatibleServer",
    "Match",
    "MirrorError",
    "MirrorFrozen",
    "MirrorIncomplete",
    "MirrorRollback",
    "MirrorVerificationError",
    "ProtocolError",
    "Replica",
    "ReplicaAhead",
    "ReplicaDamaged",
    "ServerError",
    "ServerUnreachable",
    "SyncError",
    "SyncInProgress",
    "SyncResult",
    "Verdict",
    "screen_bid_request",
]
