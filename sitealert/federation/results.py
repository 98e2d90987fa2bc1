"""What a pull of a federation source did, for the worker's log, the CLI and the admin."""

from dataclasses import dataclass


@dataclass
class PullResult:
    source: str
    version: int  # the source's last verified version after the pull
    added: int = 0
    updated: int = 0
    removed: int = 0
    held: int = 0  # listings held for the operator (a protected target)
    skipped: int = 0  # entries not taken: echoes of this installation, authorities of another source
    full: bool = False  # the whole list was read (first pull, 410, new epoch, failed verification)
    unchanged: bool = False  # nothing new upstream (304 or same version)
    pending: bool = False  # a plain-list run held for the contributor's confirmation
    error: str = ""  # why the pull failed; the source keeps its last verified state
