"""What this installation serves its subscribers (docs/federation.md, "What a subscriber receives").

The listings document since a version (0: everything) gives each target changed since then with
all its published listings, each attributed to its authority's key; the authorities document
describes every authority those listings name. Published: the active listings of the local
authorities, and those of federated authorities whose source re-publishes.

Both are rendered once per version (and `since`) into the feed cache, beside the feed's own
documents and with their gzip twins, so serving one again is reading a file. The set of authorities
whose listings are withheld is part of a document's name: turning a source's `republish` on or off
takes effect at once, without waiting for a new version. The listings are streamed from the
database, a chunk of targets at a time, in code-point order of the targets: memory holds a chunk,
never the document.
"""

import hashlib
import json
import os
import re
from dataclasses import dataclass
from itertools import groupby, islice
from json.encoder import encode_basestring
from operator import itemgetter
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
from sitealert.feed.render import iso_from_db
from sitealert.listings.models import Listing
from sitealert.organizations.models import Organization
from sitealert.procedures.models import OperatingProcedure

KINDS = ("authorities", "listings")
CHUNK_TARGETS = 1_000
MEMO_TIMES = 100_000  # formatted listing times kept for reuse while a document is rendered
ATTEMPTS = 5  # to read the list's checksum and the document at one version while new versions arrive
_FILE = re.compile(r"federation-(?:authorities|listings-[0-9]+|checksum)-([0-9]+)-[0-9a-z]+(?:\.json(?:\.gz)?)?")


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
    """(target, kind, contributor id or None, category, listed_at text, entry version) by target in
    code-point order, then contributor and category, a chunk at a time: every published listing
    (since 0), or every target changed in (since, version] with its published listings (one row
    with no contributor for a target none is published of)."""
    columns = f"l.contributor_id, l.category, {_listed_at_sql()}, e.version"
    if since == 0:
        sql = (f"SELECT l.target, e.kind, {columns} FROM listings_listing l "
               f"JOIN feed_feedentry e ON e.target = l.target WHERE {_published(withheld)} "
               f"ORDER BY l.target{_collate()}, l.contributor_id, l.category")
        params = None
    else:
        sql = (f"SELECT c.target, c.kind, {columns} FROM (SELECT target, MIN(kind) AS kind FROM feed_change "
               f"WHERE seq > %s AND seq <= %s GROUP BY target) c "
               f"{bulk.lookup_join('listings_listing', 'l', f'l.target = c.target AND {_published(withheld)}')} "
               f"{bulk.lookup_join('feed_feedentry', 'e', 'e.target = c.target')} "
               f"ORDER BY c.target{_collate()}, l.contributor_id, l.category")
        params = [since, version]
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(builder.FETCH_ROWS):
            yield from rows


def _rendered_targets(rows, keys):
    """Each target object of the listings document as compact JSON text (what json.dumps writes with
    ensure_ascii=False), from `_listing_rows`: written by hand, with the quoted authority and
    category and the formatted time of each listing reused, which costs far less than json.dumps of
    dicts."""
    heads, isos = {}, {}
    for target, group in groupby(rows, key=itemgetter(0)):
        first = next(group)
        items = []
        for _target, _kind, contributor, category, listed_at, version in (first, *group):
            if contributor is None:
                continue
            head = heads.get((contributor, category))
            if head is None:
                head = heads[contributor, category] = (f'{{"authority":{encode_basestring(keys[contributor])},'
                                                       f'"category":{encode_basestring(category)},"listed_at":"')
            iso = isos.get(listed_at)
            if iso is None:
                if len(isos) > MEMO_TIMES:
                    isos.clear()
                iso = isos[listed_at] = iso_from_db(listed_at)
            items.append(f'{head}{iso}","version":{version}}}')
        yield (f'{{"target":{encode_basestring(target)},"kind":{encode_basestring(first[1])},'
               f'"listings":[{",".join(items)}]}}')


def _listings_pieces(head, targets):
    """The listings document's bytes, compact JSON, piece by piece, from its rendered targets."""
    yield (json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"targets":[').encode()
    separator = ""
    while chunk := list(islice(targets, CHUNK_TARGETS)):
        yield (separator + ",".join(chunk)).encode()
        separator = ","
    yield b'],"more":false}'


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


# --- On disk -------------------------------------------------------------------------------------

def _paths(directory, kind, since, version, withheld):
    """(document, gzip twin, the published set's checksum) of a document in the epoch's directory."""
    name = f"federation-{kind}" + (f"-{since}" if kind == "listings" else "")
    stem = os.path.join(directory, f"{name}-{version}-{withheld}.json")
    return stem, stem + ".gz", os.path.join(directory, f"federation-checksum-{version}-{withheld}")


def _open(epoch, directory, kind, since, version, withheld, gzipped):
    plain, packed, checksum_path = _paths(directory, kind, since, version, withheld)
    checksum = cache.read_text(checksum_path) or ""
    if (not checksum and kind == "listings") or not os.path.exists(plain):
        return None
    try:
        f = open(packed if gzipped else plain, "rb")
    except FileNotFoundError:
        return None
    return FederationFile(epoch=epoch, version=version, checksum=checksum, fmt="json", gzipped=gzipped, file=f,
                          size=os.fstat(f.fileno()).st_size, kind=kind, since=since, withheld=withheld)


def _store_checksum(checksum_path, checksum):
    if cache.read_text(checksum_path) is None:
        with cache._atomic_file(checksum_path) as f:
            f.write(checksum.encode())


def _prune(directory, version):
    """Remove the federation documents of versions before `version`; open files stay readable."""
    for name in os.listdir(directory):
        match = _FILE.fullmatch(name)
        if match and int(match.group(1)) < version:
            try:
                os.remove(os.path.join(directory, name))
            except OSError:
                pass


def _write(epoch, directory, kind, since, withheld_ids, withheld):
    """Write the current version's document of `kind` (a listings document with the published set's
    checksum, stored beside it); return its version, or None when the list moved on between the
    checksum and the document (try again)."""
    uid = installation_uid()
    # Without withheld authorities the published set is the list: its checksum, which the feed
    # caches per version, is this one. It is read first, in a read of its own.
    feed = builder.current_checksum() if kind == "listings" and not withheld_ids else None
    with gc_paused(), builder.consistent_read() as (version, pruned_through):
        if feed is not None and feed[0] != version:
            return None
        plain, packed, checksum_path = _paths(directory, kind, since, version, withheld)
        if _open(epoch, directory, kind, since, version, withheld, False) is not None:
            return version
        if kind == "authorities":
            cache._write_document(plain, packed, [json.dumps(authorities_document(uid, version, withheld_ids),
                                                             ensure_ascii=False, separators=(",", ":")).encode()])
            return version
        check_since(since, SimpleNamespace(version=version, pruned_through=pruned_through))
        if feed is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM feed_feedentry")
                checksum, count = feed[1], cursor.fetchone()[0]
        else:
            checksum, count = _published_set(withheld_ids)
        head = {"installation": uid, "since": since, "version": version, "epoch": epoch, "checksum": checksum,
                "count": count}
        cache._write_document(plain, packed, _listings_pieces(
            head, _rendered_targets(_listing_rows(since, version, withheld_ids), _keys(uid))))
        _store_checksum(checksum_path, checksum)
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
        _prune(directory, version)
        found = _open(state.epoch, directory, kind, since, version, withheld, gzipped)
    if found is None:  # pruned by a newer build between ours and our open: serve that one
        return open_document(kind, since, gzipped)
    return found


def document(kind, since=0):
    """The current federation document of `kind` as a dict (tests, the CLI)."""
    opened = open_document(kind, since)
    with opened.file as f:
        return json.loads(f.read())
