"""Which file of the published tree (SITEALERT_MIRROR_DIR) a mirror request names, and who may read it.

The server serves the tree it publishes, so a direct client verifies with the same code as one
behind a mirror. Metadata and the private lookup's shards (`hashes/`) are public; `state.json`,
`lists/` and `deltas/` hold the list in clear and need a feed token, like /api/v1/feed.
"""

import os
import re
from dataclasses import dataclass

from sitealert.core.conf import setting

METADATA_NAME = re.compile(r"^(?:timestamp|root|[1-9][0-9]{0,18}\.(?:root|snapshot|targets|hashes))\.json$")
# A name of the tree: no dot first (no '.', '..', temporary or lock files), nothing but these characters.
SEGMENT = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$")
PUBLIC_TARGETS = "hashes/"
# Files whose content never changes under their name (consistent snapshots): cacheable for good.
MUTABLE_METADATA = ("timestamp.json", "root.json")


class MirrorDisabled(Exception):
    """SITEALERT_MIRROR_DIR is not set: this installation publishes no tree."""


class InvalidPath(ValueError):
    """The path cannot name a file of the tree (a '..', a hidden name, other characters)."""


@dataclass
class MirrorFile:
    kind: str  # "metadata" or "targets"
    relative: str  # path under DIR/<kind>/
    path: str  # on disk

    @property
    def public(self):
        return is_public(self.kind, self.relative)

    @property
    def immutable(self):
        return not (self.kind == "metadata" and self.relative in MUTABLE_METADATA)

    @property
    def lists_the_entries(self):
        """A full list or a delta: a download of the list, counted like a feed download."""
        return self.kind == "targets" and self.relative.startswith(("lists/", "deltas/"))

    @property
    def content_type(self):
        return "application/gzip" if self.relative.endswith(".gz") else (
            "application/json" if self.relative.endswith(".json") else "application/octet-stream")


def is_public(kind, relative):
    return kind == "metadata" or relative.startswith(PUBLIC_TARGETS)


def locate(kind, relative):
    """The MirrorFile that `relative` names under DIR/<kind>/ (whether or not it exists)."""
    directory = setting("MIRROR_DIR")
    if not directory:
        raise MirrorDisabled()
    if kind == "metadata":
        valid = bool(METADATA_NAME.match(relative))
    else:
        valid = 0 < len(relative) <= 1024 and all(SEGMENT.match(part) for part in relative.split("/"))
    if not valid:
        raise InvalidPath(relative)
    return MirrorFile(kind, relative, os.path.join(os.fspath(directory), kind, *relative.split("/")))
