"""What this installation serves its subscribers (docs/federation.md, "What a subscriber receives").

The listings document since a version (0: everything) gives each target changed since then with
all its published listings, each attributed to its authority's key; the authorities document
describes every authority those listings name. Published: the active listings of the local
authorities, and those of federated authorities whose source re-publishes.

Both are rendered once per version (and `since`) into the feed cache, beside the feed's own
documents and with their gzip twins, so serving one again is reading a file. The set of authorities
whose listings are withheld is part of a document's name: turning a source's `republish` on or off
takes effect at once, without waiting for a new version. A listings document is read from the
database as the feed's cold build reads its rows (streamed a batch at a time, in code-point order
of the targets, read ahead by a thread) and rendered a chunk at a time, each distinct authority,
category and time once: memory holds a chunk, never the document. The full document (since 0) of
a new version is spliced from the previous version's instead, as the feed's documents are: the
records of the targets changed since are replaced, and the rest of the bytes is copied. Both ways
give the same bytes. The worker builds the full document of each new version ahead of the
subscribers that read it here (`warm`).
"""

import hashlib
import json
import mmap
import os
import re
from contextlib import closing
from dataclasses import dataclass
from itertools import compress, repeat
from json.encoder import encode_basestring
from operator import eq, is_, itemgetter
from types import SimpleNamespace
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.db.models import Exists, OuterRef
from django.urls import reverse

from sitealert.core import bulk
from sitealert.core.bulk import gc_paused
from sitealert.federation.models import FederatedAuthority, Installation
from sitealert.feed import builder, cache
from sitealert.feed.builder import FeedFile, FromTheFuture, ResyncRequired
from sitealert.feed.render import Renderer, plain_lines
from sitealert.listings.models import Listing
from sitealert.organizations.models import Organization
from sitealert.procedures.models import OperatingProcedure

KINDS = ("authorities", "listings")
ATTEMPTS = 5  # to read the list's checksum and the document at one version while new versions arrive
_FILE = re.compile(r"federation-(?:authorities|listings-[0-9]+|checksum|keys)-([0-9]+)-[0-9a-z]+(?:\.json(?:\.gz)?)?")
_FULL = re.compile(r"federation-listings-0-([0-9]+)-([0-9a-z]+)\.json")


@dataclass
class FederationFile(FeedFile):
    """A federation document on disk, open for reading; the caller closes `file`. `checksum` is that
    of the published set (the listings document's), empty for the authorities document."""

    kind: str = "listings"
    since: int = 0
    withheld: str = ""

    @property
    def etag(self):
        return document_etag(self, self.kind, self.since, self.withheld, self.gzipped)


def document_etag(state, kind, since, withheld, gzipped=False):
    """The entity tag of a document: anything with `epoch` and `version` (a FeedState, a FederationFile)."""
    name = f"federation-{kind}" + (f"-{since}" if kind == "listings" else "")
    return builder.etag(state, f"{name}-{withheld}", gzipped)


def installation_uid():
    return Installation.objects.get_or_create(pk=1)[0].uid


def withheld_authorities():
    """Ids of the federated authorities whose listings this installation does not pass on: their
    source does not re-publish (or they have no source any more)."""
    republished = FederatedAuthority.objects.filter(source__republish=True).values("organization_id")
    return sorted(Organization.objects.exclude(origin="").exclude(id__in=republished).values_list("id", flat=True))


def withheld_key(withheld):
    """A short name of the withheld set, part of a document's name and entity tag."""
    if not withheld:
        return "all"
    return hashlib.sha256(",".join(map(str, withheld)).encode()).hexdigest()[:12]


def check_since(since, state):
    """Raise FromTheFuture or ResyncRequired unless a subscriber at `since` can be sent the targets
    changed since (0 asks for everything, which is always there)."""
    if since > state.version:
        raise FromTheFuture(state.version)
    if since and since < state.pruned_through:
        raise ResyncRequired(state.pruned_through)


# --- The authorities -----------------------------------------------------------------------------

def authority_key(organization, uid):
    """An authority's key: its origin if it came from another installation, else "<uid>:<slug>"."""
    return organization.origin or f"{uid}:{organization.slug}"


def _installation_url(organization):
    """The deciding installation's address, for a federated authority: the part of its review form's
    address before that form's path, else the scheme and host of its page there."""
    suffix = reverse("reviews:review_new") + "?target={target}"
    if organization.review_url.endswith(suffix):
        return organization.review_url[:-len(suffix)]
    parts = urlsplit(organization.origin_url or organization.review_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def authority_dict(organization, uid, procedures):
    """One authority of the authorities document."""
    if organization.origin:
        federation = getattr(organization, "federation", None)
        installation = {"id": federation.installation_id if federation else organization.origin.split(":")[0],
                        "name": organization.origin_installation, "url": _installation_url(organization)}
        url, review_url = organization.origin_url, organization.review_url
    else:
        installation = {"id": uid, "name": settings.SITE_NAME, "url": settings.SITE_URL}
        url = settings.SITE_URL + reverse("procedures:procedure", args=[organization.slug])
        review_url = settings.SITE_URL + reverse("reviews:review_new") + "?target={target}"
    return {"key": authority_key(organization, uid), "name": organization.name, "country": organization.country,
            "website": organization.website, "installation": installation, "url": url, "review_url": review_url,
            "procedures": {p.language: {name: getattr(p, name) for name in OperatingProcedure.FIELDS}
                           for p in sorted(procedures, key=lambda p: p.language)}}


def authorities(uid, withheld):
    """The authorities with a published listing, sorted by key. Inside the read of a version."""
    active = Listing.objects.filter(contributor=OuterRef("pk"), status=Listing.Status.ACTIVE)
    found = (Organization.objects.filter(kind=Organization.Kind.CONTRIBUTOR).filter(Exists(active))
             .exclude(id__in=withheld).select_related("federation").prefetch_related("procedures"))
    return sorted((authority_dict(o, uid, o.procedures.all()) for o in found), key=lambda a: a["key"])


def authorities_document(uid, version, withheld):
    return {"installation": {"id": uid, "name": settings.SITE_NAME, "url": settings.SITE_URL},
            "version": version, "authorities": authorities(uid, withheld)}


# --- The listings --------------------------------------------------------------------------------

def _listed_at_sql():
    if connection.vendor == "postgresql":
        return "CAST(l.listed_at AT TIME ZONE 'UTC' AS TEXT)"
    return "CAST(l.listed_at AS TEXT)"


def _collate():
    return ' COLLATE "C"' if connection.vendor == "postgresql" else ""


def _published(withheld):
    """SQL condition on the listing `l`: published (active, not of a withheld authority)."""
    condition = "l.status = 'active'"
    if withheld:
        condition += f" AND l.contributor_id NOT IN ({','.join(str(int(i)) for i in withheld)})"
    return condition


def _listing_rows(since, version, withheld):
    """Batches of (target, kind, contributor id or None, category, listed_at text, entry version)
    by target in code-point order, then contributor: every published listing (since 0), or every
    target changed in (since, version] with its published listings (one row with no contributor
    for a target none is published of). Streamed as the feed's cold build reads its rows
    (`builder.streamed_batches`). Since 0 the entries are the outer side: PostgreSQL reads them in
    code-point order from their primary key, and the listings of each are looked up, so only a
    target's own few listings are sorted, not every listing."""
    columns = f"l.contributor_id, l.category, {_listed_at_sql()}, e.version"
    if since == 0:
        sql = (f"SELECT e.target, e.kind, {columns} FROM feed_feedentry e "
               f"JOIN listings_listing l ON l.target = e.target AND {_published(withheld)} "
               f"ORDER BY e.target{_collate()}, l.contributor_id")
        params = None
    else:
        sql = (f"SELECT c.target, c.kind, {columns} FROM (SELECT target, MIN(kind) AS kind FROM feed_change "
               f"WHERE seq > %s AND seq <= %s GROUP BY target) c "
               f"{bulk.lookup_join('listings_listing', 'l', f'l.target = c.target AND {_published(withheld)}')} "
               f"{bulk.lookup_join('feed_feedentry', 'e', 'e.target = c.target')} "
               f"ORDER BY c.target{_collate()}, l.contributor_id")
        params = [since, version]
    return builder.streamed_batches(sql, params)


class _Rendered(dict):
    """Renders each distinct key once (the few authorities, categories and kinds of a document)."""

    def __init__(self, render):
        super().__init__()
        self.render = render

    def __missing__(self, key):
        value = self[key] = self.render(key)
        return value


# A listings document's targets array, record by record: a record is '{"target":' + the target's
# JSON string + its kind + its listings + ']}', a listing '{"authority":…,"category":…,"listed_at":"'
# + the time + '","version":<n>}'. A row (a listing) is rendered as up to six parts: what comes
# before (the start of the document's first record, the end of the previous record and the start
# of the next, or the comma between two listings of one target), the target and its kind (when the
# row starts a record), the listing's authority and category, its time and its version.
_FIRST, _NEXT, _SAME = '{"target":"', ']},{"target":"', ","
_VERSION = '","version":%s}'
_PARTS = 6


class _TargetsText:
    """The targets of a listings document as compact JSON text (what json.dumps writes with
    ensure_ascii=False), from `_listing_rows`' batches, a chunk at a time: each distinct authority
    and category, kind and time is rendered once, and a chunk is one join of references to those
    renderings and its targets, without a string built per row."""

    def __init__(self, keys):
        self.kinds = _Rendered(lambda kind: f'","kind":{encode_basestring(kind)},"listings":[')
        self.heads = _Rendered(lambda key: "" if key[0] is None else (
            f'{{"authority":{encode_basestring(keys[key[0]])},"category":{encode_basestring(key[1])},"listed_at":"'))
        self.isos = Renderer().isos
        self.previous = None  # the last target rendered

    def pieces(self, batches):
        """The text of the targets array between its brackets, piece by piece."""
        for batch in batches:
            for start in range(0, len(batch), builder.CHUNK_ROWS):
                yield self._chunk(batch[start:start + builder.CHUNK_ROWS])
        if self.previous is not None:
            yield "]}"

    def _chunk(self, rows):
        size = len(rows)
        targets = list(map(itemgetter(0), rows))
        parts = [_NEXT] * (_PARTS * size)
        if self.previous is None:
            parts[0] = _FIRST
        txt = "\n".join(targets).encode() + b"\n"
        parts[1::_PARTS] = targets if plain_lines(txt) else [encode_basestring(t)[1:-1] for t in targets]
        parts[2::_PARTS] = map(self.kinds.__getitem__, map(itemgetter(1), rows))
        parts[3::_PARTS] = map(self.heads.__getitem__, map(itemgetter(2, 3), rows))
        parts[4::_PARTS] = map(self.isos.__getitem__, map(itemgetter(4), rows))
        parts[5::_PARTS] = map(_VERSION.__mod__, map(itemgetter(5), rows))
        contributors = list(map(itemgetter(2), rows))
        if None in contributors:  # a target none of whose listings is published (in a delta)
            for i in compress(range(size), map(is_, contributors, repeat(None))):
                parts[_PARTS * i + 4:_PARTS * i + 6] = "", ""
        # Rows that go on listing the target of the row before: the comma, not a new record.
        for i in compress(range(size), map(eq, targets, [self.previous, *targets[:-1]])):
            parts[_PARTS * i:_PARTS * i + 3] = _SAME, "", ""
        self.previous = targets[-1] if targets else self.previous
        return "".join(parts)


_OPENING, _SEPARATOR, _TAIL = b'{"target":', b'},{"target":', b'],"more":false}'
_TARGETS = b',"targets":['


def _head(uid, since, version, epoch, checksum, count):
    """A listings document's bytes up to its targets."""
    head = {"installation": uid, "since": since, "version": version, "epoch": epoch, "checksum": checksum,
            "count": count}
    return json.dumps(head, ensure_ascii=False, separators=(",", ":")).encode()[:-1] + _TARGETS


def _listings_pieces(head, text):
    """The listings document's bytes, piece by piece, from its head and `_TargetsText.pieces`."""
    yield head
    for piece in text:
        yield piece.encode()
    yield _TAIL


def _published_set(withheld):
    """(checksum, count) of the published targets, read in the enclosing read of a version."""
    digest, count = hashlib.sha256(), 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT l.target FROM listings_listing l WHERE {_published(withheld)} "
                       f"GROUP BY l.target ORDER BY l.target{_collate()}")
        while rows := cursor.fetchmany(builder.FETCH_ROWS):
            digest.update("".join(target + "\n" for (target,) in rows).encode())
            count += len(rows)
    return "sha256:" + digest.hexdigest(), count


def _keys(uid):
    return {o.id: authority_key(o, uid) for o in Organization.objects.filter(kind=Organization.Kind.CONTRIBUTOR)
            .only("id", "origin", "slug")}


def _keys_digest(keys):
    """What a full document's records depend on besides the listings: each authority's key. A
    document is spliced only from one rendered with the same keys."""
    return hashlib.sha256("".join(f"{i}\t{k}\n" for i, k in sorted(keys.items())).encode()).hexdigest()


# --- Splicing a full listings document --------------------------------------------------------------
#
# The full document of a new version is the previous version's with the records of the targets
# changed since replaced, removed or added, as the feed's are (builder.SortedRecords): every record
# of a target depends only on its published listings, its entry's version and the authorities'
# keys, and a change of any of those but the keys is a change of the list, in the change log.

_RUN_TARGET = re.compile(rb'"([^"]*)"')
_TARGET_AFTER = re.compile(rb'\},\{"target":"([^"]*)"')


def _records(data):
    """(the records of a full listings document's bytes, its head as a dict)."""
    start = data.find(_TARGETS)
    if start == -1:
        raise ValueError("not a listings document")
    head = json.loads(bytes(data[:start]) + b"}")
    lo, hi = start + len(_TARGETS), len(data) - len(_TAIL)
    if hi > lo:  # without the first record's opening and the last one's closing brace
        lo, hi = lo + len(_OPENING), hi - 1
    return builder.SortedRecords(data, lo, hi, _SEPARATOR, b'"', b'"', b",", b"\\"), head


def _changed_records(base, version, withheld_ids, keys):
    """[(target bytes, record bytes or None)] of the targets changed in (base, version], in order,
    None for one no longer published; None if one needs escaping."""
    text = "".join(_TargetsText(keys).pieces(_listing_rows(base, version, withheld_ids)))
    if not text:
        return []
    if "\\" in text:
        return None
    changed = []
    for record in text[len(_OPENING):-1].split(_SEPARATOR.decode()):
        target = record[1:record.index('"', 1)]
        changed.append((target.encode(), None if record.endswith('"listings":[]') else record.encode()))
    return changed


def _runs_checksum(runs):
    """The checksum of the targets of spliced runs of records, in their order: each run starts with
    a record's target, and every other record of it follows a separator."""
    digest = hashlib.sha256()
    for run in runs:
        digest.update(b"\n".join([_RUN_TARGET.match(run).group(1), *_TARGET_AFTER.findall(run)]) + b"\n")
    return "sha256:" + digest.hexdigest()


def _base(directory, version, pruned_through, withheld, keys_digest):
    """The newest full document of `withheld` before `version` that a splice can start from: its
    changes since are in the log, and it was rendered with the same keys. (version, path) or None;
    never the empty list of version 0, which would be spliced from every listing."""
    found = []
    for name in os.listdir(directory):
        match = _FULL.fullmatch(name)
        if match and match.group(2) == withheld and max(pruned_through, 1) <= int(match.group(1)) < version:
            found.append(int(match.group(1)))
    for base in sorted(found, reverse=True):
        if version - base > builder.SPLICE_MAX_CHANGES:
            return None
        plain, _, _, keys_path = _paths(directory, "listings", 0, base, withheld)
        if cache.read_text(keys_path) == keys_digest:
            return base, plain
    return None


def _spliced(directory, version, pruned_through, withheld_ids, withheld, keys, keys_digest):
    """(runs of records, how many) of the full document at `version`, spliced from the newest cached
    one, or None (then it is read whole). Inside the consistent_read of `version`."""
    found = _base(directory, version, pruned_through, withheld, keys_digest)
    if found is None:
        return None
    base, path = found
    try:
        with open(path, "rb") as f:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (FileNotFoundError, ValueError):  # pruned meanwhile, or empty
        return None
    records, head = _records(data)
    if not records.spliceable or head.get("version") != base:
        return None
    changed = _changed_records(base, version, withheld_ids, keys)
    if changed is None:
        return None
    runs = records.splice(changed)
    count = head["count"] - records.matched + sum(record is not None for _, record in changed)
    return runs, count


# --- On disk -------------------------------------------------------------------------------------

def _paths(directory, kind, since, version, withheld):
    """(document, gzip twin, the published set's checksum, the authorities' keys it was rendered
    with) of a document in the epoch's directory."""
    name = f"federation-{kind}" + (f"-{since}" if kind == "listings" else "")
    stem = os.path.join(directory, f"{name}-{version}-{withheld}.json")
    return (stem, stem + ".gz", os.path.join(directory, f"federation-checksum-{version}-{withheld}"),
            os.path.join(directory, f"federation-keys-{version}-{withheld}"))


def _open(epoch, directory, kind, since, version, withheld, gzipped):
    plain, packed, checksum_path, _ = _paths(directory, kind, since, version, withheld)
    checksum = cache.read_text(checksum_path) or ""
    if (not checksum and kind == "listings") or not os.path.exists(plain):
        return None
    try:
        f = open(packed if gzipped else plain, "rb")
    except FileNotFoundError:
        return None
    return FederationFile(epoch=epoch, version=version, checksum=checksum, fmt="json", gzipped=gzipped, file=f,
                          size=os.fstat(f.fileno()).st_size, kind=kind, since=since, withheld=withheld)


def _store_text(path, text):
    if cache.read_text(path) is None:
        with cache._atomic_file(path) as f:
            f.write(text.encode())


def _prune(directory, version, full):
    """Remove the federation documents of versions before `version`; open files stay readable. The
    newest full listings document (without its gzip twin) stays until a newer one is built (`full`):
    the next version's is spliced from it."""
    for name in os.listdir(directory):
        match = _FILE.fullmatch(name)
        if not match or int(match.group(1)) >= version:
            continue
        if not full and (_FULL.fullmatch(name) or name.startswith("federation-keys-")):
            continue
        try:
            os.remove(os.path.join(directory, name))
        except OSError:
            pass


def _write_listings(uid, epoch, directory, since, version, pruned_through, feed, withheld_ids, withheld):
    """Write `version`'s listings document since `since` and the published set's checksum beside
    it: a full one spliced from the previous version's when it can, else read from the database.
    Inside the consistent_read of `version`; `feed` is the feed's (version, checksum) when no
    authority is withheld (then the published set is the list)."""
    plain, packed, checksum_path, keys_path = _paths(directory, "listings", since, version, withheld)
    keys = _keys(uid)
    spliced = None
    if since == 0:
        keys_digest = _keys_digest(keys)
        spliced = _spliced(directory, version, pruned_through, withheld_ids, withheld, keys, keys_digest)
        with cache._atomic_file(keys_path) as f:
            f.write(keys_digest.encode())
    if spliced is not None:
        runs, count = spliced
        checksum = feed[1] if feed is not None else _runs_checksum(runs)
        head = _head(uid, since, version, epoch, checksum, count)
        cache._write_document(plain, packed, builder.joined_pieces(
            head + (_OPENING if runs else b""), runs, _SEPARATOR, (b"}" if runs else b"") + _TAIL))
    else:
        if feed is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM feed_feedentry")
                checksum, count = feed[1], cursor.fetchone()[0]
        else:
            checksum, count = _published_set(withheld_ids)
        head = _head(uid, since, version, epoch, checksum, count)
        with closing(_listing_rows(since, version, withheld_ids)) as batches:
            cache._write_document(plain, packed, _listings_pieces(head, _TargetsText(keys).pieces(batches)))
    _store_text(checksum_path, checksum)


def _write(epoch, directory, kind, since, withheld_ids, withheld):
    """Write the current version's document of `kind` (a listings document with the published set's
    checksum, stored beside it); return its version, or None when the list moved on between the
    checksum and the document (try again)."""
    # Without withheld authorities the published set is the list: its checksum, which the feed
    # caches per version, is this one. It is read first, in a read of its own.
    feed = builder.current_checksum() if kind == "listings" and not withheld_ids else None
    uid = installation_uid()  # created on first use: not inside a read
    with gc_paused(), builder.consistent_read() as (version, pruned_through):
        if feed is not None and feed[0] != version:
            return None
        if _open(epoch, directory, kind, since, version, withheld, False) is not None:
            return version
        if kind == "authorities":
            plain, packed, _, _ = _paths(directory, kind, since, version, withheld)
            cache._write_document(plain, packed, [json.dumps(
                authorities_document(uid, version, withheld_ids), ensure_ascii=False,
                separators=(",", ":")).encode()])
            return version
        check_since(since, SimpleNamespace(version=version, pruned_through=pruned_through))
        _write_listings(uid, epoch, directory, since, version, pruned_through, feed, withheld_ids, withheld)
    return version


def open_document(kind, since=0, gzipped=False):
    """The current version's federation document of `kind` ("authorities" or "listings" since
    `since`), gzip-compressed if asked, built into the feed cache if need be. Raises FromTheFuture or
    ResyncRequired (listings) as the changes documents do."""
    if kind not in KINDS:
        raise ValueError(f"unknown federation document {kind!r}")
    since = since if kind == "listings" else 0
    state = builder.feed_state()
    check_since(since, state)
    withheld_ids = withheld_authorities()
    withheld = withheld_key(withheld_ids)
    directory = cache.epoch_directory(state.epoch)
    found = _open(state.epoch, directory, kind, since, state.version, withheld, gzipped)
    if found is not None:
        return found
    with cache.lock(directory, f"federation-{kind}-{since}"):
        for _attempt in range(ATTEMPTS):
            version = _write(state.epoch, directory, kind, since, withheld_ids, withheld)
            if version is not None:
                break
        else:
            raise RuntimeError(f"the list changed during each of {ATTEMPTS} attempts to read one version")
        _prune(directory, version, full=kind == "listings" and since == 0)
        found = _open(state.epoch, directory, kind, since, version, withheld, gzipped)
    if found is None:  # pruned by a newer build between ours and our open: serve that one
        return open_document(kind, since, gzipped)
    return found


def document(kind, since=0):
    """The current federation document of `kind` as a dict (tests, the CLI)."""
    opened = open_document(kind, since)
    with opened.file as f:
        return json.loads(f.read())


def warm(now=None):
    """Build the current version's full listings document and the authorities document, plain and
    gzip, before a subscriber asks for them — when subscribers read them from here: when a full
    listings document of this epoch was built before (for a subscriber, or for the signed mirror).
    The worker runs it beside the feed's own `builder.warm`; the new version's document is then
    spliced from the one before, so no subscriber's request reads a million listings."""
    directory = cache.epoch_directory(builder.feed_state().epoch)
    if not any(_FULL.fullmatch(name) for name in os.listdir(directory)):
        return
    for kind in KINDS:
        open_document(kind, 0, gzipped=True).file.close()
