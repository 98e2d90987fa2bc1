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


class MirrorError(SyncError):
    """A mirror's files failed TUF verification (sitealert.client.mirror): the sync refused them,
    tried the next mirror if any, and the replica keeps its last verified version."""


class MirrorVerificationError(MirrorError):
    """A mirror served something the trusted root does not vouch for: a missing or bad signature,
    a key the root does not list, a file modified or truncated (length or hash mismatch)."""


class MirrorFrozen(MirrorError):
    """A mirror's signed metadata has expired: the mirror stopped updating (or is replaying an old
    tree), so it cannot show that its list is current."""


class MirrorRollback(MirrorError):
    """A mirror served metadata, or a list, older than what this client has already verified."""


class MirrorIncomplete(MirrorError):
    """A mirror lacks a file its signed metadata names (HTTP 404): a partial copy or dropped files."""
