"""Plain-list sources: a local contributor's whole list, published at a URL, kept as its listings.

`pull_list` fetches the document under the monitoring probe's rules (`monitoring.probe.Prober.fetch`:
every address checked and pinned, redirects and size limited, timed), conditionally on the last
validators, reads it as the CSV of the import (`target,category,reference,note`) or as one target a
line, and replaces the contributor's listings with it through `listings.services`, in one
transaction with the source's state. A run that would remove more than `max_removal_share` of the
contributor's listings is held in `Source.pending` until the contributor confirms or discards it.
"""

import hashlib
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sitealert.core import audit
from sitealert.core.actors import Actor
from sitealert.core.conf import setting
from sitealert.core.mail import member_emails, send_in_language
from sitealert.federation.models import Source
from sitealert.federation.results import PullResult
from sitealert.listings import csv_import
from sitealert.listings.models import Category, Listing
from sitealert.listings.services import ACCEPTED, HELD, REJECTED, EntryInput, remove_listings, submit_entries
from sitealert.monitoring import conf as monitor_conf
from sitealert.monitoring.probe import Prober
from sitealert.organizations import permissions

HELD_STATE, DISCARDED_STATE = "held", "discarded"
SAMPLE_SIZE = 20  # targets a held run shows of those it would remove
ROWS_SHOWN = 10  # invalid rows named in a refusal
_HEADER_FIELDS = re.compile(r"[,;\t]")


class ListRefused(Exception):
    """Why a document, or a held run, is not applied; the message is for the contributor."""


class _Held(Exception):
    def __init__(self, run):
        super().__init__("held")
        self.run = run


# --- Reading the document ---------------------------------------------------------------------

def fetch_document(source):
    """(body, etag, last_modified) of the source's document, or None when it has not changed (304)."""
    config = monitor_conf.load()
    limit = setting("IMPORT_MAX_BYTES")
    headers = {"Accept": "text/csv, text/plain;q=0.9, */*;q=0.1"}
    if source.etag:
        headers["If-None-Match"] = source.etag
    if source.last_modified:
        headers["If-Modified-Since"] = source.last_modified
    # One byte over the limit tells a body of exactly the limit from a longer one.
    attempt = Prober(config).fetch(source.url, headers=headers, max_bytes=limit + 1,
                                   total_timeout=setting("FEDERATION_LIST_TIMEOUT"))
    if attempt.failure:
        raise ListRefused(_("The list could not be fetched from %(url)s: %(problem)s") % {
            "url": attempt.final_url, "problem": attempt.detail or attempt.failure})
    if attempt.status_code == 304:
        return None
    if attempt.status_code != 200:
        raise ListRefused(_("The list could not be fetched from %(url)s: the server answered HTTP %(status)d.") % {
            "url": attempt.final_url, "status": attempt.status_code})
    if attempt.truncated:
        raise ListRefused(_("The list at %(url)s is larger than %(limit)s MB, the limit of an upload; nothing was "
                            "changed.") % {"url": attempt.final_url, "limit": f"{limit / csv_import.MB:.1f}"})
    encoding = attempt.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ListRefused(_("The list at %(url)s was sent with the content encoding '%(encoding)s', which is not "
                            "read; serve it uncompressed.") % {"url": attempt.final_url, "encoding": encoding[:40]})
    return bytes(attempt.body), attempt.headers.get("etag", ""), attempt.headers.get("last-modified", "")


def decode_document(data):
    """The document's text, refused as an upload would be (encoding, binary, spreadsheet)."""
    text, error = csv_import.decode_csv_bytes(data)
    if error:
        raise ListRefused(error)
    return text


def parse_document(text):
    """The document's entries: the import's CSV when its first line is that header, else one target a line."""
    header = text.lstrip("\ufeff").partition("\n")[0]
    columns = {c.strip().strip('"').lower() for c in _HEADER_FIELDS.split(header)}
    if "target" in columns:
        entries, rejected, error = csv_import.parse_csv(text, setting("IMPORT_MAX_ROWS"))
        if error:
            raise ListRefused(error)
        if rejected:
            raise ListRefused(invalid_rows_message(rejected))
        return entries
    return _plain_entries(text)


def _plain_entries(text):
    """One target a line, category `other`; `#` comments and blank lines are not rows."""
    limit = setting("IMPORT_MAX_ROWS")
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if len(entries) >= limit:
            raise ListRefused(csv_import.too_many_rows(limit))
        entries.append(EntryInput(line, str(Category.OTHER), row=number))
    return entries


def invalid_rows_message(rows):
    """The refusal of a document with invalid rows: how many, and the first ones with their reasons."""
    shown = "; ".join(_("row %(row)s: %(reason)s") % {"row": r.row, "reason": r.reason} for r in rows[:ROWS_SHOWN])
    return ngettext("The list was not applied: %(n)d row is invalid (%(rows)s).",
                    "The list was not applied: %(n)d rows are invalid (%(rows)s).",
                    len(rows)) % {"n": len(rows), "rows": shown + ("; …" if len(rows) > ROWS_SHOWN else "")}


def digest_of(text):
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- Pulling and applying -----------------------------------------------------------------------

def source_actor(source):
    """Who changes the listings a source brings: the contributor itself, through the worker."""
    return Actor(organization=source.contributor, via="worker")


def held_run(source):
    """The run waiting for the contributor's confirmation, or None."""
    pending = source.pending
    return pending if pending and pending.get("state") == HELD_STATE else None


def removal_reason(source):
    """Why a listing was removed by a run of `source`, in the installation's language (it is stored)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _("No longer in %(source)s's list") % {"source": source.name}


def pull_list(source, *, now=None):
    """Fetch the source's list and make the contributor's listings what it says (see the module)."""
    now = now or timezone.now()
    result = PullResult(source=source.name, version=source.version)
    try:
        fetched = fetch_document(source)
        if fetched is None:
            result.unchanged = True
            result.pending = held_run(source) is not None
            _save(source, now, success=True)
            return result
        body, etag, last_modified = fetched
        result.full = True
        text = decode_document(body)
        digest = digest_of(text)
        if source.pending and source.pending.get("digest") == digest:
            # The run still waiting, or the one the contributor discarded: nothing new to decide.
            result.unchanged = True
            result.pending = held_run(source) is not None
            _save(source, now, success=True, etag=etag, last_modified=last_modified)
            return result
        entries = parse_document(text)
        return _apply(source, entries, result, now=now, confirmed=False,
                      document={"digest": digest, "text": text, "etag": etag, "last_modified": last_modified})
    except (ListRefused, PermissionDenied) as exc:
        result.error = str(exc)
        _save(source, now, error=result.error)
        return result


def _save(source, now, *, success=False, error="", **fields):
    """Store the outcome of a pull that changed no listing."""
    values = {"last_attempt_at": now, **fields}
    if success:
        values.update(last_success_at=now, last_error="")
    if error:
        values.update(last_error=error, last_error_at=now)
    Source.objects.filter(pk=source.pk).update(**values)
    for name, value in values.items():
        setattr(source, name, value)


def _apply(source, entries, result, *, now, confirmed, document):
    """Submit the document's entries and remove the contributor's listings it lacks, in one
    transaction with the source's state; hold the run instead when it removes too many."""
    try:
        with transaction.atomic():
            locked = Source.objects.select_for_update().get(pk=source.pk)
            contributor = locked.contributor
            if contributor is None:
                raise ListRefused(_("This source names no contributor; a plain-list source needs one."))
            actor = source_actor(locked)
            current = set(Listing.objects.filter(contributor=contributor, status__in=(
                Listing.Status.ACTIVE, Listing.Status.HELD)).values_list("target", flat=True))
            listed = set()
            if entries:
                report = submit_entries(contributor, entries, actor=actor)
                if not report.applied:
                    raise ListRefused(invalid_rows_message([r for r in report.rows if r.status == REJECTED]))
                listed = {r.target for r in report.rows}
                accepted = [r.target for r in report.rows if r.status == ACCEPTED]
                result.added = sum(1 for t in accepted if t not in current)
                result.updated = len(accepted) - result.added
                result.held = sum(1 for r in report.rows if r.status == HELD)
            gone = sorted(current - listed)
            if not confirmed and current and len(gone) > locked.max_removal_share * len(current):
                raise _Held({"listings": len(current), "listed": len(listed), "added": result.added,
                             "updated": result.updated, "removed": len(gone), "sample": gone[:SAMPLE_SIZE]})
            if gone:
                remove_listings(contributor, gone, removal_reason(locked), actor=actor)
            result.removed = len(gone)
            result.version = locked.version + 1
            Source.objects.filter(pk=source.pk).update(
                version=result.version, pending=None, etag=document["etag"], last_modified=document["last_modified"],
                last_attempt_at=now, last_success_at=now, last_error="")
    except _Held as held:
        _hold(source, held.run, document, now)
        result.pending = True
        return result
    source.refresh_from_db()
    return result


def _hold(source, counts, document, now):
    """Keep the run for the contributor's decision and tell its people, once per document."""
    pending = {"state": HELD_STATE, "digest": document["digest"], "fetched_at": now.isoformat(),
               "etag": document["etag"], "last_modified": document["last_modified"],
               "document": document["text"], **counts}
    with transaction.atomic():
        # The held document's validators, so that later pulls of the same document are a 304.
        Source.objects.filter(pk=source.pk).update(
            pending=pending, etag=document["etag"], last_modified=document["last_modified"],
            last_attempt_at=now, last_success_at=now, last_error="")
        audit.record(source_actor(source), "source.list_hold", source.name, {
            "source": source.name, "digest": document["digest"],
            **{k: counts[k] for k in ("listings", "listed", "added", "updated", "removed")}})
    source.refresh_from_db()
    send_in_language(lambda: _("A run of the list %(source)s waits for your confirmation") % {"source": source.name},
                     "federation/email/list_held.txt",
                     {"source": source, "run": pending, "share": round(100 * source.max_removal_share),
                      "page_url": settings.SITE_URL + reverse("federation:list_sources")},
                     member_emails(source.contributor), settings.LANGUAGE_CODE)


# --- The contributor's decision --------------------------------------------------------------

def _decided_run(source, actor, digest):
    permissions.require(permissions.can_decide_list_run(actor, source.contributor), permissions.why_not(actor))
    run = held_run(source)
    if run is None:
        raise ListRefused(_("No run of %(source)s waits for confirmation.") % {"source": source.name})
    if digest is not None and run["digest"] != digest:
        raise ListRefused(_("A newer fetch of %(source)s replaced this run; review the run now shown.") % {
            "source": source.name})
    return run


def confirm_pending(source, *, actor, digest=None, now=None):
    """Apply the run held for `source`, as the source; `digest` (what the person saw) must still be
    the held one. Raises ListRefused when no run waits or a newer one replaced it."""
    now = now or timezone.now()
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        run = _decided_run(source, actor, digest)
        result = _apply(source, parse_document(run["document"]), PullResult(source=source.name, version=source.version),
                        now=now, confirmed=True, document=run)
        audit.record(actor, "source.list_confirm", source.name, {
            "source": source.name, "digest": run["digest"], "added": result.added, "updated": result.updated,
            "removed": result.removed})
    return result


def discard_pending(source, *, actor, digest=None, now=None):
    """Drop the run held for `source`; the same document is not held again, a changed one is read."""
    now = now or timezone.now()
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source.pk)
        run = _decided_run(source, actor, digest)
        Source.objects.filter(pk=source.pk).update(pending={
            "state": DISCARDED_STATE, "digest": run["digest"], "discarded_at": now.isoformat()})
        audit.record(actor, "source.list_discard", source.name, {
            "source": source.name, "digest": run["digest"], "removed": run["removed"]})
    source.refresh_from_db()
    return source
