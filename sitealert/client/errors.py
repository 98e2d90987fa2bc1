"""What can go wrong in the client, each with a message that says what to do about it."""


class ClientError(Exception):
    """Base class of the client SDK's errors."""


class ReplicaDamaged(ClientError):
    """The replica on disk cannot be trusted (unreadable, truncated, checksum mismatch).

    Opening never raises this: the replica opens empty with `.damaged` set, `check()` raises this,
    and the next `sync()` replaces it with a full download.
    """


class SyncError(ClientError):
    """A sync did not complete. The replica still holds the version it had before."""


class SyncInProgress(SyncError):
    """Another process is syncing the same replica directory."""


class AuthError(SyncError):
    """The server refused the token (HTTP 401 or 403)."""


class ServerUnreachable(SyncError):
    """No answer from the server (DNS, connection, TLS or timeout) after all retries."""


class ServerError(SyncError):
    """The server kept answering with an error (5xx or 429) after all retries."""


class ProtocolError(SyncError):
    """The server's answer does not follow the feed protocol (SPEC §4): not a SiteAlert server, a
    proxy's error page, or a bug."""


class IncompatibleServer(ProtocolError):
    """A server from the future: it speaks a newer protocol than this client understands
    (an unknown checksum scheme, an unknown feed format). Upgrade the sitealert package."""


class ReplicaAhead(SyncError):
    """The server answered 400 to `changes?since=N`: the replica is at a version the server has
    not reached (the server was restored from an older backup, or the replica was synced from
    another installation). `sync(..., full=True)` replaces it with the server's list."""


class ChecksumMismatch(SyncError):
    """Even a full download did not match the checksum the server announced."""
