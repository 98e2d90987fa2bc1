"""pull(source): bring what a federation source lists here up to its installation's version.

A pull reads two documents of the upstream installation (docs/federation.md): its authorities and
its listings since the version this source last verified (all of them on a first pull, after a 410,
on a new epoch, or when the upstream went back), through its API or its signed mirror. Both are
validated before anything is written; then, in ONE transaction with the source's new state, each
authority becomes (or updates) a federated Organization with its procedures, and its listings go
through the ordinary listing services, so the change log, protected-target holds and the
aggregation treat them as any contributor's. The result is verified against the document's count
and checksum; a mismatch reads everything once more, then fails. A failure of any kind rolls the
transaction back: the source keeps its last verified state and records the error.

Verifying a delta does not read the million targets back: the upstream's targets at the last
verified version are kept in a file (`targets_path`); the delta's targets are spliced into it,
and the result must have the document's count and checksum, while the database must list exactly
the delta's targets that the result has. A full read of the database replaces that whenever the
file is missing, stale or damaged, and at least once a day (FULL_READ_EVERY).

Authorities decided by this installation (echoes of what it published) and authorities another
source already brings (first source wins) are skipped.
"""

import gzip
import hashlib
import json
import logging
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sitealert.client.errors import ClientError
from sitealert.client.sync import ResyncNeeded as MirrorHasNoDelta
from sitealert.client.sync import _Feed, base_url, mirror_url
from sitealert.core import audit, bulk
from sitealert.core.actors import federation_actor
from sitealert.core.conf import setting
from sitealert.core.countries import is_country_code
from sitealert.federation import plainlist
from sitealert.federation.models import FederatedAuthority, Installation, Source
from sitealert.federation.results import PullResult
from sitealert.feed import cache
from sitealert.feed.builder import splice_targets
from sitealert.listings.models import Category, Listing
from sitealert.listings.services import ACCEPTED, HELD, EntryInput, remove_listings, submit_entries
from sitealert.organizations.models import Organization
from sitealert.procedures.models import OperatingProcedure, ProcedureText
from sitealert.procedures.services import save_procedure

log = logging.getLogger("sitealert.federation")

AUTHORITIES = "/api/v1/federation/authorities"
LISTINGS = "/api/v1/federation/listings"
TIMEOUT, RETRIES, BACKOFF = 30.0, 4, 0.5  # the client SDK's defaults (sitealert.client.sync)
BATCH = 900
FULL_READ_EVERY = 24 * 3600  # seconds: a delta's verification reads the database whole at least this often
_KEY = re.compile(r"[0-9A-Za-z]{1,32}:[-\w]{1,80}")
_INSTALLATION_ID = re.compile(r"[0-9A-Za-z]{1,32}")


class PullError(Exception):
    """A pull that applied nothing; the message says why, for the source's last_error."""


class MalformedDocument(PullError):
    """An upstream document that is not what the federation protocol describes."""


class ResyncNeeded(Exception):
    """The upstream cannot take this source forward from its version (HTTP 410): read everything."""


# -- the documents -------------------------------------------------------------------------------


@dataclass
class Authority:
    key: str
    name: str
    country: str
    website: str
    installation_id: str
    installation_name: str
    url: str
    review_url: str
    procedures: dict  # language -> {field: text}


@dataclass(slots=True)
class UpstreamListing:
    authority: str
    category: str
    listed_at: datetime | None
    version: int


@dataclass
class Listings:
    installation: str
    since: int
    version: int
    epoch: str
    checksum: str
    count: int
    targets: dict = field(default_factory=dict)  # target -> [UpstreamListing]; empty: none published


def _text(value, where, *, required=True, limit=None):
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or "\x00" in value:
        raise MalformedDocument(_("%(where)s is missing or not text.") % {"where": where})
    if limit is not None and len(value) > limit:
        raise MalformedDocument(_("%(where)s is longer than %(n)d characters.") % {"where": where, "n": limit})
    return value.strip()


def _number(value, where):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedDocument(_("%(where)s is not a version number.") % {"where": where})
    return value


def _object(value, where):
    if not isinstance(value, dict):
        raise MalformedDocument(_("%(where)s is not a JSON object.") % {"where": where})
    return value


def _url(value, where, *, required=False):
    text = _text(value, where, required=required, limit=500)
    if text and not text.startswith(("https://", "http://")):
        raise MalformedDocument(_("%(where)s is not an http(s) address.") % {"where": where})
    return text


def parse_authorities(document):
    """(upstream installation {id, name, url}, version, {key: Authority}) of an authorities document."""
    document = _object(document, _("The authorities document"))
    installation = _object(document.get("installation"), "installation")
    upstream = {"id": _text(installation.get("id"), "installation.id", limit=32),
                "name": _text(installation.get("name"), "installation.name", required=False, limit=200),
                "url": _url(installation.get("url"), "installation.url")}
    if not _INSTALLATION_ID.fullmatch(upstream["id"]):
        raise MalformedDocument(_("%(where)s is not an installation ID.") % {"where": "installation.id"})
    version = _number(document.get("version"), "version")
    items = document.get("authorities")
    if not isinstance(items, list):
        raise MalformedDocument(_("%(where)s is not a list.") % {"where": "authorities"})
    languages = {code for code, _name in settings.LANGUAGES}
    authorities = {}
    for position, item in enumerate(items):
        here = f"authorities[{position}]"
        item = _object(item, here)
        key = _text(item.get("key"), f"{here}.key", limit=200)
        if not _KEY.fullmatch(key):
            raise MalformedDocument(_("%(where)s is not an authority key (installation ID:slug).") % {
                "where": f"{here}.key"})
        if key in authorities:
            raise MalformedDocument(_("%(where)s: the authority %(key)s appears twice.") % {"where": here, "key": key})
        country = _text(item.get("country"), f"{here}.country", limit=2).upper()
        if not is_country_code(country):
            raise MalformedDocument(_("%(where)s is not a country code.") % {"where": f"{here}.country"})
        deciding = _object(item.get("installation"), f"{here}.installation")
        deciding_id = _text(deciding.get("id"), f"{here}.installation.id", limit=32)
        if not _INSTALLATION_ID.fullmatch(deciding_id):
            raise MalformedDocument(_("%(where)s is not an installation ID.") % {"where": f"{here}.installation.id"})
        review_url = _url(item.get("review_url"), f"{here}.review_url")
        procedures = {}
        for language, texts in _object(item.get("procedures") or {}, f"{here}.procedures").items():
            texts = _object(texts, f"{here}.procedures.{language}")
            values = {name: _text(texts.get(name), f"{here}.procedures.{language}.{name}", required=False,
                                  limit=100_000) for name in ProcedureText.FIELDS}
            if language in languages:  # a language this installation does not offer is not shown here
                procedures[language] = values
        authorities[key] = Authority(
            key=key, name=_text(item.get("name"), f"{here}.name", limit=200), country=country,
            website=_url(item.get("website"), f"{here}.website"), installation_id=deciding_id,
            installation_name=_text(deciding.get("name"), f"{here}.installation.name", required=False, limit=200),
            url=_url(item.get("url"), f"{here}.url"), review_url=review_url, procedures=procedures)
    return upstream, version, authorities


def _timestamp(value, where):
    if value is None:
        return None
    text = _text(value, where, limit=40)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedDocument(_("%(where)s is not a date and time.") % {"where": where}) from None
    if moment.tzinfo is None:
        raise MalformedDocument(_("%(where)s is not a date and time.") % {"where": where})
    return moment


def _plain(value, limit):
    """Text as a well-formed document has it (the fast path; anything else is read strictly)."""
    return type(value) is str and 0 < len(value) <= limit and "\x00" not in value and value == value.strip()


def _listing(listing, categories, dates, position, number):
    """One listing of a target: checked in a few operations when well formed, else field by field
    so that the error names what is wrong. `dates` caches parsed `listed_at` texts."""
    if type(listing) is dict:
        authority, category = listing.get("authority"), listing.get("category")
        version, listed_at = listing.get("version"), listing.get("listed_at")
        if (_plain(authority, 200) and category in categories and type(version) is int and version >= 0
                and (listed_at is None or type(listed_at) is str)):
            moment = dates.get(listed_at, dates)
            if moment is dates:
                moment = dates[listed_at] = _timestamp(listed_at, f"targets[{position}].listings[{number}].listed_at")
            return UpstreamListing(authority, category, moment, version)
    there = f"targets[{position}].listings[{number}]"
    listing = _object(listing, there)
    authority = _text(listing.get("authority"), f"{there}.authority", limit=200)
    category = _text(listing.get("category"), f"{there}.category", limit=50)
    if category not in categories:
        raise MalformedDocument(_("%(where)s: unknown category '%(value)s'.") % {
            "where": f"{there}.category", "value": category})
    return UpstreamListing(authority, category, _timestamp(listing.get("listed_at"), f"{there}.listed_at"),
                           _number(listing.get("version"), f"{there}.version"))


def parse_listings(document, since):
    """The Listings of a listings document answering `since`."""
    document = _object(document, _("The listings document"))
    if _number(document.get("since"), "since") != since:
        raise MalformedDocument(_("The listings document answers since=%(got)s, not %(asked)s.") % {
            "got": document.get("since"), "asked": since})
    checksum = _text(document.get("checksum"), "checksum", limit=80)
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", checksum):
        raise MalformedDocument(_("%(where)s is not a SHA-256 checksum.") % {"where": "checksum"})
    more = document.get("more", False)
    if more is not True and more is not False:
        raise MalformedDocument(_("%(where)s is neither true nor false.") % {"where": "more"})
    result = Listings(installation=_text(document.get("installation"), "installation", limit=32), since=since,
                      version=_number(document.get("version"), "version"),
                      epoch=_text(document.get("epoch"), "epoch", limit=32), checksum=checksum,
                      count=_number(document.get("count"), "count"))
    if result.version < since:
        raise MalformedDocument(_("The listings document's version %(version)d is older than %(since)d.") % {
            "version": result.version, "since": since})
    items = document.get("targets")
    if not isinstance(items, list):
        raise MalformedDocument(_("%(where)s is not a list.") % {"where": "targets"})
    categories = frozenset(c.value for c in Category)
    dates = {}
    for position, item in enumerate(items):
        target, listings = (item.get("target"), item.get("listings")) if type(item) is dict else (None, None)
        if not (_plain(target, 300) and type(listings) is list):
            here = f"targets[{position}]"
            item = _object(item, here)
            target = _text(item.get("target"), f"{here}.target", limit=300)
            if not isinstance(listings, list):
                raise MalformedDocument(_("%(where)s is not a list.") % {"where": f"{here}.listings"})
        if target in result.targets:
            raise MalformedDocument(_("%(where)s: the target %(target)s appears twice.") % {
                "where": f"targets[{position}]", "target": target})
        entries = [_listing(listing, categories, dates, position, number) for number, listing in enumerate(listings)]
        if len(entries) > 1 and len({e.authority for e in entries}) < len(entries):
            raise MalformedDocument(_("%(where)s: the authority %(key)s lists the target twice.") % {
                "where": f"targets[{position}]", "key": next(
                    e.authority for e in entries if sum(f.authority == e.authority for f in entries) > 1)})
        if since == 0 and not entries:
            raise MalformedDocument(_("%(where)s has no listing in a complete document.") % {
                "where": f"targets[{position}]"})
        result.targets[target] = entries
    if since == 0:
        _check_whole(result)
    return result, more


def checksum_of(targets):
    """The federation documents' checksum of a set of targets: SHA-256 of each, sorted, + newline."""
    return checksum_of_bytes(_lines(targets))


def checksum_of_bytes(lines):
    """The checksum of targets already in their checksummed form (sorted, each + newline, bytes)."""
    return "sha256:" + hashlib.sha256(lines).hexdigest()


def _lines(targets):
    return "".join(target + "\n" for target in sorted(targets)).encode()


def _check_whole(listings):
    """A complete document describes itself: its count and checksum are those of its targets."""
    if listings.count != len(listings.targets) or listings.checksum != checksum_of(listings.targets):
        raise MalformedDocument(_("The complete listings document does not match its own count and checksum "
                                  "(%(count)d targets announced, %(found)d found).") % {
            "count": listings.count, "found": len(listings.targets)})


# -- fetching ------------------------------------------------------------------------------------


class _Api:
    """The upstream's API, with the client SDK's HTTP conventions (retries, backoff, errors)."""

    def __init__(self, source):
        try:
            base = base_url(source.url)
        except ValueError as exc:
            raise PullError(str(exc)) from None
        self.feed = _Feed(base, source.token or None, timeout=TIMEOUT, retries=RETRIES, backoff=BACKOFF)

    def authorities(self):
        response = self.feed.get(AUTHORITIES)
        if response.status_code != 200:
            raise PullError(_("%(url)s answered HTTP %(status)d.") % {"url": response.request.url,
                                                                   "status": response.status_code})
        return self.feed.document(response)

    def listings(self, since):
        response = self.feed.get(LISTINGS, params={"since": str(since)})
        if since and response.status_code in (400, 410):
            raise ResyncNeeded()
        if response.status_code != 200:
            raise PullError(_("%(url)s answered HTTP %(status)d.") % {"url": response.request.url,
                                                                   "status": response.status_code})
        return self.feed.document(response)

    def close(self):
        self.feed.close()


class _Mirror:
    """The upstream's signed mirror: every document verified against the source's pinned root, with
    the trusted metadata kept per source under FEDERATION_DIR (rollback and freeze protection)."""

    def __init__(self, source):
        from sitealert.client.mirror import TUF_DIR, MirrorSource

        try:
            url = mirror_url(source.url)
        except ValueError as exc:
            raise PullError(str(exc)) from None
        path = metadata_directory(source)
        path.mkdir(parents=True, exist_ok=True)
        pinned = None if (path / TUF_DIR / "root.json").exists() else source.root.encode()
        self.mirror = MirrorSource(path, url, pinned, source.token or None, timeout=TIMEOUT)

    def _document(self, kind, since=None):
        try:
            data = self.mirror.federation_document(kind, since=since)
        except MirrorHasNoDelta:
            raise ResyncNeeded() from None
        try:
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            return json.loads(data)
        except (OSError, EOFError, zlib.error, ValueError):
            raise MalformedDocument(_("The mirror's %(kind)s document is not JSON.") % {"kind": kind}) from None

    def at(self, version, epoch, checksum=""):
        """Whether the mirror's signed state is still `version` of `epoch` with the published set
        `checksum` (an idle poll: the mirror has no delta from its own version, and nothing needs
        reading). Another checksum at the same version: the upstream switched what it re-publishes."""
        state = self.mirror.state()
        published = state.federation.checksum if state.federation is not None else ""
        return state.version == version and state.epoch == epoch and (
            not checksum or not published or published == checksum)

    def authorities(self):
        return self._document("authorities")

    def listings(self, since):
        return self._document("listings", since=since or None)

    def close(self):
        self.mirror.close()


def metadata_directory(source):
    """Where the trusted TUF metadata of a mirror source is kept."""
    return Path(setting("FEDERATION_DIR")) / source.name


def targets_path(source):
    """The upstream's published targets at the source's last verified version (see the module's doc)."""
    return Path(setting("FEDERATION_DIR")) / "targets" / f"{source.pk}.txt"


def _upstream(source):
    if source.kind == Source.Kind.API:
        return _Api(source)
    if source.kind == Source.Kind.MIRROR:
        return _Mirror(source)
    raise PullError(f"source kind {source.kind!r} is not pulled from an installation")


def _fetch(upstream, since):
    """(authorities document, Listings) from `since`, following `more` to the end."""
    authorities = parse_authorities(upstream.authorities())
    merged = None
    position = since
    while True:
        listings, more = parse_listings(upstream.listings(position), position)
        if merged is None:
            merged = listings
        else:
            if listings.epoch != merged.epoch:
                raise ResyncNeeded()
            merged.targets.update(listings.targets)
            merged.version, merged.checksum, merged.count = listings.version, listings.checksum, listings.count
        if not more:
            return authorities, merged
        if listings.version <= position:
            raise MalformedDocument(_("'more' is true but the version did not advance."))
        position = listings.version


# -- the pull ------------------------------------------------------------------------------------


def pull(source, *, full=False, now=None):
    """Bring `source` to its upstream's current version; returns a PullResult (error set on failure).

    full: read everything even if a delta would do. Kind list is fed-list's plain-list pull."""
    if source.kind == Source.Kind.LIST:
        return plainlist.pull_list(source)
    now = now or timezone.now()
    try:
        upstream = _upstream(source)
    except PullError as exc:
        _attempted(source, now)
        return _failed(source, str(exc), now)
    try:
        return pull_from(source, upstream, full=full, now=now)
    finally:
        upstream.close()


def pull_from(source, upstream, *, full=False, now=None):
    """pull() with the documents read from `upstream` (an object with `authorities()` and
    `listings(since)` returning the documents as dicts, raising ResyncNeeded when it cannot answer `since`)."""
    now = now or timezone.now()
    _attempted(source, now)
    try:
        return _pull(source, upstream, full=full, now=now)
    except (PullError, ClientError) as exc:
        return _failed(source, str(exc), now)


def _attempted(source, now):
    Source.objects.filter(pk=source.pk).update(last_attempt_at=now)
    source.last_attempt_at = now


def _failed(source, message, now):
    log.warning("federation source %s: %s", source.name, message)
    Source.objects.filter(pk=source.pk).update(last_error=message, last_error_at=now)
    source.last_error, source.last_error_at = message, now
    return PullResult(source=source.name, version=source.version, error=message)


def _pull(source, upstream, *, full, now):
    full = full or not source.version
    since = 0 if full else source.version
    at = getattr(upstream, "at", None)
    if since and at is not None and at(since, source.epoch, source.checksum):
        _store(source, None, now)
        return PullResult(source=source.name, version=source.version, unchanged=True)
    try:
        authorities, listings = _fetch(upstream, since)
    except ResyncNeeded:
        full, since = True, 0
        authorities, listings = _fetch(upstream, 0)
    if since and (listings.epoch != source.epoch or listings.installation != source.upstream_id):
        full, since = True, 0  # a new epoch (the upstream's list was reset) or another installation
        authorities, listings = _fetch(upstream, 0)
    if since and listings.version == since and not listings.targets and source.checksum not in ("", listings.checksum):
        # Same version, another published set: the upstream changed what it re-publishes.
        full, since = True, 0
        authorities, listings = _fetch(upstream, 0)
    if since and listings.version == since and not listings.targets:
        # No listing changed; the authorities' names and procedures may have (they have no version).
        result = PullResult(source=source.name, version=since, unchanged=True)
        with transaction.atomic():
            _authorities(source, authorities[2], _here(), now, result)
            _store(source, listings, now)
        return result
    try:
        return _apply(source, authorities, listings, full=full, now=now)
    except _Mismatch:
        if full:
            raise PullError(_("After applying the complete document, this source's listings do not match "
                              "its count and checksum.")) from None
    authorities, listings = _fetch(upstream, 0)
    try:
        return _apply(source, authorities, listings, full=True, now=now)
    except _Mismatch:
        raise PullError(_("After a complete resynchronization, this source's listings still do not match "
                          "its count and checksum.")) from None


class _Mismatch(Exception):
    """The applied state does not verify; the transaction is rolled back."""


def _store(source, listings, now):
    """Record a successful pull (of `listings`; None: the upstream was unchanged)."""
    fields = {"last_success_at": now, "last_error": "", "last_error_at": None, "stale_alerted_at": None}
    if listings is not None:
        fields.update(upstream_id=listings.installation, epoch=listings.epoch, version=listings.version,
                      checksum=listings.checksum, upstream_version_at=now)
    Source.objects.filter(pk=source.pk).update(**fields)
    for name, value in fields.items():
        setattr(source, name, value)


def _apply(source, authorities_document, listings, *, full, now):
    upstream, _version, authorities = authorities_document  # the version: that of the listings governs
    if upstream["id"] != listings.installation:
        raise MalformedDocument(_("The authorities and listings documents come from different installations."))
    result = PullResult(source=source.name, version=listings.version, full=full)
    with transaction.atomic():
        Source.objects.select_for_update().filter(pk=source.pk).first()
        here = _here()
        owned, skipped = _authorities(source, authorities, here, now, result)
        _listings(source, listings, owned, skipped, full=full, now=now, result=result)
        kept = _verified(source, listings, owned, skipped, here, full=full)
        if kept is None:
            raise _Mismatch()
        _keep_targets(source, listings, *kept)
        audit.record(federation_actor(None), "federation.pull", source.name, {
            "version": listings.version, "full": full, "added": result.added, "updated": result.updated,
            "removed": result.removed, "held": result.held, "skipped": result.skipped})
        _store(source, listings, now)
    return result


def _here():
    """This installation's ID (docs/federation.md: its authorities' keys start with it)."""
    return Installation.objects.get_or_create(pk=1)[0].uid


def _authorities(source, authorities, here, now, result):
    """Create or update this source's authorities; ({key: Organization} owned, {key: why} skipped)."""
    existing = {o.origin: o for o in Organization.objects.filter(origin__in=list(authorities))
                .select_related("federation")}
    owned, skipped = {}, {}
    for key, authority in authorities.items():
        if authority.installation_id == here or key.split(":", 1)[0] == here:
            skipped[key] = "echo"
            continue
        org = existing.get(key)
        link = getattr(org, "federation", None) if org is not None else None
        if link is not None and link.source_id != source.pk:
            skipped[key] = "other source"
            continue
        owned[key] = _authority(source, authority, org, link, now)
    result.skipped += len(skipped)
    return owned, skipped


def _authority(source, authority, org, link, now):
    values = {"name": authority.name, "country": authority.country, "website": authority.website,
              "origin_installation": authority.installation_name or authority.installation_id,
              "origin_url": authority.url, "review_url": authority.review_url}
    if org is None:
        org = Organization.objects.create(
            slug=Organization.unique_slug(authority.key.split(":", 1)[1]), kind=Organization.Kind.CONTRIBUTOR,
            status=Organization.Status.APPROVED, approved_at=now, origin=authority.key, **values)
        link = FederatedAuthority.objects.create(organization=org, source=source,
                                                 installation_id=authority.installation_id, seen_at=now)
    else:
        changed = [name for name, value in values.items() if getattr(org, name) != value]
        if changed:
            for name in changed:
                setattr(org, name, values[name])
            org.save(update_fields=changed)
        if link is None:  # brought by a source that was removed since: this one takes it over
            FederatedAuthority.objects.create(organization=org, source=source,
                                              installation_id=authority.installation_id, seen_at=now)
        else:
            FederatedAuthority.objects.filter(pk=link.pk).update(installation_id=authority.installation_id,
                                                                 seen_at=now)
    actor = federation_actor(org)
    for language, texts in authority.procedures.items():
        save_procedure(org, language, texts, actor=actor)
    OperatingProcedure.objects.filter(organization=org).exclude(language__in=list(authority.procedures)).delete()
    return org


def _listings(source, listings, owned, skipped, *, full, now, result):
    """Apply the targets of `listings` to the owned authorities through the listing services."""
    wanted = {key: {} for key in owned}  # key -> {target: UpstreamListing}
    known = set(Organization.objects.filter(federation__source=source).values_list("origin", flat=True))
    for target, entries in listings.targets.items():
        for entry in entries:
            if entry.authority in owned:
                wanted[entry.authority][target] = entry
            elif entry.authority not in skipped and entry.authority not in known:
                raise MalformedDocument(
                    _("%(target)s is listed by %(key)s, which the authorities document does not describe.") % {
                        "target": target, "key": entry.authority})
    # With the authorities this source brought that its installation no longer lists anything
    # for: they stay (their procedures remain readable), their listings go.
    organizations = list(owned.values())
    organizations += list(Organization.objects.filter(federation__source=source)
                          .exclude(pk__in=[o.pk for o in organizations]))
    reason = _("Removed at its installation")
    live = _live_targets(organizations, None if full else list(listings.targets))
    for org in organizations:
        entries = wanted.get(org.origin, {})
        before = live.get(org.pk, set())
        actor = federation_actor(org)
        if entries:
            report = submit_entries(org, [EntryInput(target=t, category=e.category, listed_at=e.listed_at)
                                          for t, e in entries.items()], actor=actor)
            if not report.applied:
                problems = [f"{r.input}: {r.reason}" for r in report.rows if r.reason][:3]
                raise MalformedDocument(_("Listings of %(key)s were refused: %(problems)s") % {
                    "key": org.origin, "problems": "; ".join(problems)})
            for row in report.rows:
                if row.status in (ACCEPTED, HELD) and row.target not in before:
                    result.added += 1
                    result.held += row.status == HELD
                elif row.status == ACCEPTED:
                    result.updated += 1
            _set_origin_versions(org, {t: e.version for t, e in entries.items()})
        removed = [t for t in before if t not in entries]
        if removed:
            report = remove_listings(org, removed, reason, actor=actor, accept_valid_rows=True)
            result.removed += sum(1 for r in report.rows if r.status == ACCEPTED)
            _set_origin_versions(org, dict.fromkeys(removed, listings.version))


def _live_targets(organizations, among):
    """{organization id: the targets it lists here (active or held)}, all of them or those `among`
    the given, for all the organizations in one pass."""
    live = Listing.objects.filter(contributor__in=organizations,
                                  status__in=(Listing.Status.ACTIVE, Listing.Status.HELD))
    found = {}
    if among is None:
        batches = [live.values_list("contributor_id", "target").iterator(chunk_size=10_000)]
    else:
        batches = (live.filter(target__in=among[start:start + BATCH]).values_list("contributor_id", "target")
                   for start in range(0, len(among), BATCH))
    for rows in batches:
        for contributor, target in rows:
            found.setdefault(contributor, set()).add(target)
    return found


def _set_origin_versions(org, versions):
    """Listing.origin_version of `org`'s listings from {target: upstream version}, set-based."""
    q = connection.ops.quote_name
    table = q(Listing._meta.db_table)
    with bulk.temporary_table("sitealert_origin_versions", ["target text PRIMARY KEY", "version bigint"]) as stage:
        bulk.insert_rows(stage, ["target", "version"], sorted(versions.items()))
        bulk.analyze(stage, len(versions))
        with connection.cursor() as cursor:
            # A join on the (target, contributor) key: the planner looks the stage's few rows up
            # after a delta, and joins whole lists after a first pull (both engines run UPDATE … FROM).
            cursor.execute(f"UPDATE {table} SET origin_version = s.version FROM {stage} s "
                           f"WHERE {table}.contributor_id = %s AND {table}.target = s.target", [org.pk])


def _verified(source, listings, owned, skipped, here, *, full):
    """Whether what this source lists here matches the document's count and checksum: None if
    not, else (the upstream's published targets at the new version as kept by `_keep_targets`,
    when the database was last read whole for them).

    A complete document is compared on the part this source applies (skipped authorities are not
    here by design). After a delta, the upstream's whole set is compared with the targets listed
    here by this source's authorities and by the skipped ones (this installation's own, for echoes;
    the other source's, for an authority it brings): spliced into the kept targets of the last
    version, or read from the database when they are not kept (the module's doc).
    """
    ids = list(FederatedAuthority.objects.filter(source=source).values_list("organization_id", flat=True))
    if full:
        # A complete document's own count and checksum were checked against its targets as it was
        # read (`_check_whole`): when this source applies every target, they are the expected ones.
        published = _lines(listings.targets)
        expected = [t for t, entries in listings.targets.items() if any(e.authority in owned for e in entries)]
        wanted = (listings.checksum if len(expected) == listings.count else checksum_of(expected), len(expected))
        if _listed_here(ids, []) != wanted:
            return None
        return published, time.time()
    slugs = [key.split(":", 1)[1] for key in skipped if key.split(":", 1)[0] == here]
    others = list(Organization.objects.filter(origin__in=list(skipped)).values_list("pk", flat=True)) + list(
        Organization.objects.filter(origin="", slug__in=slugs).values_list("pk", flat=True))
    previous = _kept_targets(source)
    if previous is None:
        body = []
        if _listed_here(ids, others, keep=body) != (listings.checksum, listings.count):
            return None
        return b"".join(body), time.time()
    targets, read_at = previous
    spliced = splice_targets(targets, sorted((t.encode(), bool(entries)) for t, entries in listings.targets.items()))
    if (checksum_of_bytes(spliced), spliced.count(b"\n")) != (listings.checksum, listings.count):
        return None
    touched = list(listings.targets)
    if _listed_among(ids, others, touched) != {t for t in touched if listings.targets[t]}:
        return None
    return spliced, read_at


def _listed_where(ids, others):
    """SQL condition and parameters: listed here by the organizations `ids` (active or held: a
    listing held for a protected target is still this source's) or `others` (active)."""
    parts, params = [], []
    for orgs, statuses in ((ids, (Listing.Status.ACTIVE, Listing.Status.HELD)), (others, (Listing.Status.ACTIVE,))):
        if orgs:
            parts.append(f"(contributor_id IN ({', '.join(['%s'] * len(orgs))}) "
                         f"AND status IN ({', '.join(['%s'] * len(statuses))}))")
            params += [*orgs, *map(str, statuses)]
    return " OR ".join(parts), params


def _listed_here(ids, others, keep=None):
    """(checksum, count) of the targets listed here by `ids` and `others` (`_listed_where`),
    streamed from the database in code-point order, as the documents' checksum is made; their
    bytes appended to the list `keep` if given."""
    where, params = _listed_where(ids, others)
    digest, count = hashlib.sha256(), 0
    if where:
        q = connection.ops.quote_name
        collate = ' COLLATE "C"' if connection.vendor == "postgresql" else ""  # SQLite compares bytes
        with connection.chunked_cursor() as cursor:
            cursor.execute(f"SELECT target FROM {q(Listing._meta.db_table)} WHERE {where} "
                           f"GROUP BY target ORDER BY target{collate}", params)
            while rows := cursor.fetchmany(10_000):
                chunk = ("\n".join(map(itemgetter(0), rows)) + "\n").encode()
                digest.update(chunk)
                count += len(rows)
                if keep is not None:
                    keep.append(chunk)
    return "sha256:" + digest.hexdigest(), count


def _listed_among(ids, others, targets):
    """Which of `targets` are listed here by `ids` and `others` (`_listed_where`)."""
    where, params = _listed_where(ids, others)
    found = set()
    if where:
        q = connection.ops.quote_name
        with connection.cursor() as cursor:
            for start in range(0, len(targets), BATCH):
                batch = targets[start:start + BATCH]
                cursor.execute(f"SELECT DISTINCT target FROM {q(Listing._meta.db_table)} WHERE ({where}) "
                               f"AND target IN ({', '.join(['%s'] * len(batch))})", [*params, *batch])
                found.update(map(itemgetter(0), cursor.fetchall()))
    return found


# -- the upstream's targets, kept between pulls ---------------------------------------------------
#
# A header line (JSON: the source, the epoch, version and checksum they are the targets of, and
# when the database was last read whole for them), then the targets in code-point order, each followed by
# a newline, exactly the bytes the checksum is made of.


def _identity(source):
    """The source's number and creation time: a source removed and added again keeps nothing."""
    return f"{source.pk} {source.created_at.isoformat()}"


def _kept_targets(source):
    """(targets bytes, time of the last whole read) kept for the source's verified version, or None
    when there is no such file, it is for another state, its bytes do not have the source's
    checksum, or the database was last read whole more than FULL_READ_EVERY ago."""
    try:
        head, _newline, targets = targets_path(source).read_bytes().partition(b"\n")
        header = json.loads(head)
        state = (header["source"], header["epoch"], header["version"], header["checksum"])
        read_at = float(header["read_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if state != (_identity(source), source.epoch, source.version, source.checksum) or \
            time.time() - read_at > FULL_READ_EVERY:
        return None
    if checksum_of_bytes(targets) != source.checksum:
        return None
    return targets, read_at


def _keep_targets(source, listings, targets, read_at):
    """Keep the upstream's targets at the version being applied, for the next delta's verification.
    Written before the transaction commits: if it does not, the header names a state the source
    never reaches, and the next pull reads the database instead."""
    path = targets_path(source)
    header = {"source": _identity(source), "epoch": listings.epoch, "version": listings.version,
              "checksum": listings.checksum, "read_at": read_at}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with cache._atomic_file(path) as f:
            f.write(json.dumps(header).encode() + b"\n")
            f.write(targets)
    except OSError as exc:  # a slower next verification, not a failed pull
        log.warning("federation source %s: could not keep its targets in %s: %s", source.name, path, exc)


# -- state for the operator ----------------------------------------------------------------------


def stale_after(source):
    """How long without a success makes `source` stale: 3 × its interval, at least FEDERATION_STALE_AFTER."""
    return timedelta(seconds=max(3 * source.every, setting("FEDERATION_STALE_AFTER")))


def lag(source, now=None):
    """Seconds since the last successful pull (since the source was added, before any)."""
    now = now or timezone.now()
    return (now - (source.last_success_at or source.created_at)).total_seconds()


def is_stale(source, now=None):
    return source.enabled and lag(source, now) > stale_after(source).total_seconds()


def is_due(source, now=None):
    now = now or timezone.now()
    last = source.last_attempt_at
    return source.enabled and (last is None or (now - last).total_seconds() >= source.every)
