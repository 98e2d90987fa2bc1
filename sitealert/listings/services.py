"""Every change to listings goes through these functions: web form, CSV upload, API and CLI."""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sitealert.core import audit, bulk
from sitealert.feed.changelog import refresh_targets
from sitealert.hosts import InvalidTarget, covering_targets, normalize_target
from sitealert.listings.models import Category, Kind, Listing, ProtectedTarget
from sitealert.organizations import permissions

ACCEPTED, UNCHANGED, HELD, REJECTED = "accepted", "unchanged", "held", "rejected"
CSV_COLUMNS = ("target", "category", "reference", "note")
REQUIRED_COLUMNS = ("target", "category")
MAX_REFERENCE = 200
MAX_NOTE = 5000
BATCH = 900


@dataclass
class EntryInput:
    target: str
    category: str = ""
    reference: str = ""
    note: str = ""
    review_after: date | None = None
    row: int | None = None
    listed_at: datetime | None = None  # when an existing national list is carried over with its dates


@dataclass
class RowResult:
    row: int | None
    input: str
    status: str
    target: str | None = None
    reason: str = ""

    def as_dict(self):
        data = {"row": self.row, "input": self.input, "target": self.target, "status": self.status}
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class Report:
    rows: list = field(default_factory=list)
    applied: bool = False
    dry_run: bool = False
    error: str = ""  # a problem with the whole submission (file encoding, header, size…)
    version: int | None = None

    @property
    def counts(self):
        counts = {ACCEPTED: 0, UNCHANGED: 0, HELD: 0, REJECTED: 0}
        for r in self.rows:
            counts[r.status] += 1
        return counts

    @property
    def summary(self):
        c = self.counts
        if self.error:
            return self.error
        parts = _("%(accepted)d accepted, %(unchanged)d unchanged, %(held)d held, %(rejected)d rejected.") % c
        if self.dry_run:
            return _("Dry run, nothing was changed: ") + parts
        if not self.applied and c[REJECTED]:
            return ngettext(
                "Nothing was changed because %(n)d row was rejected. Correct it, or choose to accept the valid rows.",
                "Nothing was changed because %(n)d rows were rejected. Correct them, or choose to accept the valid rows.",
                c[REJECTED]) % {"n": c[REJECTED]} + " " + parts
        return parts

    def as_dict(self):
        return {
            "applied": self.applied, "dry_run": self.dry_run, "error": self.error or None,
            "version": self.version, "counts": self.counts, "summary": str(self.summary),
            "rows": [r.as_dict() for r in self.rows],
        }


def target_error_message(exc):
    """The normalizer's reason, in the user's language where we have a translation."""
    from sitealert.listings.target_messages import translated_reason

    return translated_reason(exc)


class ProtectedIndex:
    """Answers 'does this target equal, cover or fall under a protected target?' in O(labels)."""

    def __init__(self):
        self.protected = set(ProtectedTarget.objects.values_list("target", flat=True))
        self.covered_by = {}
        for p in self.protected:
            if ":" in p:
                continue
            for parent in covering_targets(p):
                self.covered_by.setdefault(parent, p)

    def conflict(self, target):
        if not self.protected:
            return None
        if target in self.protected:
            return target
        if ":" in target:
            return None
        hit = self.covered_by.get(target)
        if hit is not None:
            return hit
        for parent in covering_targets(target):
            if parent in self.protected:
                return parent
        return None


def _storable(text):
    """Text both databases can store: no NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _echo(text):
    """What the person sent, safe to show back (lone surrogates become U+FFFD)."""
    return text.strip()[:300].encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")


def _clean_entries(entries, valid_categories):
    """Normalize and validate; returns (results, {target: (entry, result)}) in input order."""
    results = []
    accepted = {}
    first_row = {}
    for entry in entries:
        raw = entry.target if isinstance(entry.target, str) else ""
        result = RowResult(row=entry.row, input=_echo(raw), status=ACCEPTED)
        results.append(result)
        try:
            target = normalize_target(raw)
        except InvalidTarget as exc:
            result.status, result.reason = REJECTED, target_error_message(exc)
            continue
        result.target = target
        category = (entry.category or "").strip().lower()
        if not category:
            result.status = REJECTED
            result.reason = _("The category is missing. Use one of: %(choices)s.") % {
                "choices": ", ".join(valid_categories)}
            continue
        if category not in valid_categories:
            result.status = REJECTED
            result.reason = _("Unknown category '%(value)s'. Use one of: %(choices)s.") % {
                "value": _echo(category)[:50], "choices": ", ".join(valid_categories)}
            continue
        entry.category = category
        entry.reference = (entry.reference or "").strip()
        entry.note = (entry.note or "").strip()
        if len(entry.reference) > MAX_REFERENCE:
            result.status = REJECTED
            result.reason = _("The reference is longer than %(n)d characters.") % {"n": MAX_REFERENCE}
            continue
        if len(entry.note) > MAX_NOTE:
            result.status = REJECTED
            result.reason = _("The note is longer than %(n)d characters.") % {"n": MAX_NOTE}
            continue
        if not _storable(entry.reference) or not _storable(entry.note):
            result.status = REJECTED
            result.reason = _("The reference or note contains a NUL character or an invalid Unicode code point; "
                              "remove it and try again.")
            continue
        if target in first_row:
            result.status = REJECTED
            where = first_row[target]
            result.reason = (
                _("Duplicate: '%(target)s' already appears in row %(row)s.") % {"target": target, "row": where}
                if where is not None else _("Duplicate: '%(target)s' appears twice.") % {"target": target}
            )
            continue
        first_row[target] = entry.row
        accepted[target] = (entry, result)
    return results, accepted


LISTING_COLUMNS = ["target", "kind", "contributor_id", "category", "reference", "listed_at", "review_after", "note",
                   "status", "status_reason", "status_changed_at", "created_at", "updated_at"]
UPDATE_COLUMNS = ["category", "reference", "note", "review_after", "listed_at", "status", "status_reason",
                  "status_changed_at", "updated_at"]
EDITABLE = ("category", "reference", "note", "review_after")


def _existing_listings(contributor, targets):
    """{target: {field: raw value}} for the contributor's listings among `targets`.

    Raw values (the database's own representation) are written back unchanged by updates.
    """
    from django.db import connection

    fields = ("id", "target", "status", "status_reason", "status_changed_at", "listed_at") + EDITABLE
    found = {}
    if not targets or not Listing.objects.filter(contributor=contributor).exists():
        return found
    q = connection.ops.quote_name
    sql = (f"SELECT {', '.join(q(f) for f in fields)} FROM {q(Listing._meta.db_table)} "
           f"WHERE contributor_id = %s AND {{condition}}")
    step = 5000
    with connection.cursor() as cursor:
        for start in range(0, len(targets), step):
            condition, params = bulk.in_clause("target", targets[start:start + step])
            cursor.execute(sql.format(condition=condition), [contributor.pk, *params])
            for row in cursor.fetchall():
                found[row[1]] = dict(zip(fields, row))
    return found


def submit_entries(contributor, entries, *, actor, dry_run=False, accept_valid_rows=False, progress=None):
    """Add or update listings of `contributor`. All-or-nothing unless `accept_valid_rows`."""
    permissions.require(permissions.can_manage_listings(actor, contributor), permissions.why_not(actor))
    valid_categories = [c.value for c in Category]
    report = Report(dry_run=dry_run)
    report.rows, accepted = _clean_entries(list(entries), valid_categories)
    rejected = report.counts[REJECTED]
    with transaction.atomic():
        protected = ProtectedIndex()
        now = timezone.now()
        db_now = bulk.db_datetime(now)
        targets = list(accepted)
        existing = _existing_listings(contributor, targets)
        new_rows, updates, audit_items, touched = [], [], [], []
        # Plain strings in the loop: enum attribute lookups cost more than the rest of a row.
        active, held, removed = str(Listing.Status.ACTIVE), str(Listing.Status.HELD), str(Listing.Status.REMOVED)
        app, domain = str(Kind.APP), str(Kind.DOMAIN)
        contributor_id = contributor.pk
        check_protected = protected.conflict if protected.protected else None
        for i, target in enumerate(targets):
            if progress is not None and i % 50000 == 0:
                progress(i, len(targets))
            entry, result = accepted[target]
            review_after = bulk.db_date(entry.review_after) if entry.review_after is not None else None
            listing = existing.get(target) if existing else None
            hit = None
            if check_protected is not None and (listing is None or listing["status"] == removed):
                hit = check_protected(target)
            if hit:
                status = held
                reason = result.reason = _held_reason(target, hit)
                result.status = HELD
            else:
                status, reason = active, ""
            if listing is None:
                listed_at = db_now if entry.listed_at is None else bulk.db_datetime(min(entry.listed_at, now))
                new_rows.append((target, app if ":" in target else domain, contributor_id, entry.category,
                                 entry.reference, listed_at, review_after, entry.note, status, reason,
                                 db_now, db_now, db_now))
                audit_items.append((target, {"event": "created", "status": status, "category": entry.category,
                                             "reference": entry.reference}))
                touched.append(target)
                continue
            if listing["status"] == removed:
                updates.append((entry.category, entry.reference, entry.note, review_after, db_now,
                                status, reason, db_now, db_now, listing["id"]))
                audit_items.append((target, {"event": "relisted", "status": status, "category": entry.category,
                                             "reference": entry.reference}))
                touched.append(target)
                continue
            if listing["status"] == held:
                result.status, result.reason = HELD, listing["status_reason"]
            values = {"category": entry.category, "reference": entry.reference, "note": entry.note,
                      "review_after": review_after}
            differs = sorted(k for k, v in values.items() if listing[k] != v)
            if not differs:
                if result.status != HELD:
                    result.status = UNCHANGED
                continue
            updates.append((entry.category, entry.reference, entry.note, review_after,
                            listing["listed_at"], listing["status"], listing["status_reason"],
                            listing["status_changed_at"], db_now, listing["id"]))
            audit_items.append((target, {"event": "updated", "fields": differs,
                                         **{k: str(values[k]) for k in differs if k != "note"}}))
            touched.append(target)
        if dry_run or (rejected and not accept_valid_rows):
            transaction.set_rollback(True)
            return report
        bulk.insert_rows(Listing._meta.db_table, LISTING_COLUMNS, new_rows)
        bulk.update_rows(Listing._meta.db_table, UPDATE_COLUMNS, "id", updates)
        audit.record_many(actor, "listing.submit", audit_items)
        report.version = refresh_targets(touched, now)
        report.applied = True
        if progress is not None:
            progress(len(targets), len(targets))
    return report


def _held_reason(target, protected):
    if target == protected:
        return _("'%(target)s' is a protected target: the operator must review this listing before it is published.") % {
            "target": target}
    return _("'%(target)s' overlaps the protected target '%(protected)s': the operator must review this listing "
             "before it is published.") % {"target": target, "protected": protected}


def remove_listings(contributor, raw_targets, reason, *, actor, accept_valid_rows=False, dry_run=False):
    """Remove listings of `contributor` with a reason. All-or-nothing unless `accept_valid_rows`."""
    permissions.require(permissions.can_manage_listings(actor, contributor), permissions.why_not(actor))
    report = Report(dry_run=dry_run)
    reason = (reason or "").strip()
    if not reason:
        report.error = _("A reason is required to remove a listing.")
        return report
    wanted = {}
    for i, raw in enumerate(raw_targets, start=1):
        raw = raw if isinstance(raw, str) else ""
        result = RowResult(row=i, input=_echo(raw), status=ACCEPTED)
        report.rows.append(result)
        try:
            target = normalize_target(raw)
        except InvalidTarget as exc:
            result.status, result.reason = REJECTED, target_error_message(exc)
            continue
        result.target = target
        if target in wanted:
            result.status, result.reason = UNCHANGED, _("Duplicate of row %(row)d.") % {"row": wanted[target][0].row}
            continue
        wanted[target] = (result,)
    with transaction.atomic():
        now = timezone.now()
        removed = []
        targets = list(wanted)
        for start in range(0, len(targets), BATCH):
            chunk = targets[start:start + BATCH]
            existing = {l.target: l for l in Listing.objects.filter(contributor=contributor, target__in=chunk)}
            for target in chunk:
                (result,) = wanted[target]
                listing = existing.get(target)
                if listing is None:
                    result.status = REJECTED
                    result.reason = _("'%(target)s' is not listed by your organization.") % {"target": target}
                elif listing.status == Listing.Status.REMOVED:
                    result.status, result.reason = UNCHANGED, _("Already removed.")
                else:
                    listing.status = Listing.Status.REMOVED
                    listing.status_reason = reason
                    listing.status_changed_at = now
                    listing.updated_at = now
                    removed.append(listing)
        if dry_run or (report.counts[REJECTED] and not accept_valid_rows):
            transaction.set_rollback(True)
            return report
        Listing.objects.bulk_update(removed, ["status", "status_reason", "status_changed_at", "updated_at"],
                                    batch_size=BATCH)
        audit.record_many(actor, "listing.remove", [(l.target, {"reason": reason}) for l in removed])
        report.version = refresh_targets([l.target for l in removed], now)
        report.applied = True
    return report


def hold_listing(listing, reason, *, actor):
    """Operator: take a published listing out of the feed pending review."""
    permissions.require(permissions.can_moderate(actor))
    reason = (reason or "").strip()
    if not reason:
        raise ValueError(_("A reason is required to hold a listing."))
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status != Listing.Status.ACTIVE:
            raise ValueError(_("Only an active listing can be held."))
        now = timezone.now()
        Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.HELD, status_reason=reason,
                                                     status_changed_at=now, updated_at=now)
        audit.record(actor, "listing.hold", listing.target, {"contributor": listing.contributor.slug, "reason": reason})
        refresh_targets([listing.target], now)


def release_listing(listing, *, actor, note=""):
    """Operator: publish a held listing after review."""
    permissions.require(permissions.can_moderate(actor))
    with transaction.atomic():
        listing = Listing.objects.select_for_update().get(pk=listing.pk)
        if listing.status != Listing.Status.HELD:
            raise ValueError(_("Only a held listing can be released."))
        now = timezone.now()
        Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.ACTIVE, status_reason="",
                                                     status_changed_at=now, updated_at=now)
        audit.record(actor, "listing.release", listing.target, {"contributor": listing.contributor.slug, "note": note})
        refresh_targets([listing.target], now)


# --- CSV import -------------------------------------------------------------------------------

def decode_csv_bytes(data):
    """Return (text, error). Refuses UTF-16 and non-UTF-8 files with a precise message."""
    if not data or not data.strip(b"\xef\xbb\xbf \t\r\n"):
        return None, _("The file is empty. It needs a header row (target,category,reference,note) and at least one row.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(data) > 3 and (data[1:2] == b"\x00" or data[0:1] == b"\x00")):
        return None, _("The file is encoded as UTF-16. Save it as 'CSV UTF-8' and upload it again.")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return None, _(
            "The file is not valid UTF-8 (first bad byte on line %(line)d). It looks like Latin-1 or "
            "Windows-1252: save it as 'CSV UTF-8' and upload it again.") % {"line": line}


def parse_csv(text):
    """Return (entries, rejected_rows, error) from CSV text with a header row."""
    # strict: an unterminated quote is an error, not a field that silently swallows the rows after it.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return [], [], _("The file is empty. It needs a header row (target,category,reference,note) and at least one row.")
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing or unknown or len(set(columns)) != len(columns):
        details = []
        if missing:
            details.append(_("missing column(s): %(cols)s") % {"cols": ", ".join(missing)})
        if unknown:
            # The first few are enough: a header of 100,000 junk columns must not make a 100,000-item message.
            cols = ", ".join(repr(c[:40]) for c in unknown[:5]) + (", …" if len(unknown) > 5 else "")
            details.append(_("unknown column(s): %(cols)s") % {"cols": cols})
        if len(set(columns)) != len(columns):
            details.append(_("a column appears twice"))
        return [], [], _("Row 1 must be the header row: target,category,reference,note (%(details)s).") % {
            "details": "; ".join(details)}
    index = {c: i for i, c in enumerate(columns)}
    entries, rejected = [], []
    width = len(columns)
    row_number = 1
    try:
        for row in reader:
            row_number = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) > width:
                rejected.append(RowResult(row=row_number, input=",".join(row)[:300], status=REJECTED,
                                          reason=_("This row has %(found)d fields; the header has %(expected)d.") % {
                                              "found": len(row), "expected": width}))
                continue
            row = row + [""] * (width - len(row))
            entries.append(EntryInput(
                target=row[index["target"]], category=row[index["category"]],
                reference=row[index["reference"]] if "reference" in index else "",
                note=row[index["note"]] if "note" in index else "", row=row_number))
    except csv.Error as exc:
        return [], [], _("The CSV file is malformed near line %(line)d: %(error)s") % {
            "line": row_number + 1, "error": str(exc)}
    if not entries and not rejected:
        return [], [], _("The file has a header row but no data rows.")
    return entries, rejected, None


def import_csv(contributor, data, *, actor, dry_run=False, accept_valid_rows=False, progress=None):
    """Import a CSV file (bytes) of listings for `contributor`; one report, all-or-nothing by default."""
    permissions.require(permissions.can_manage_listings(actor, contributor), permissions.why_not(actor))
    limit = settings.SITEALERT["IMPORT_MAX_BYTES"]
    if len(data) > limit:
        return Report(dry_run=dry_run, error=_(
            "The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files.") % {
            "size": f"{len(data) / 1e6:.1f}", "limit": f"{limit / 1e6:.1f}"})
    text, error = decode_csv_bytes(data)
    if error:
        return Report(dry_run=dry_run, error=error)
    entries, rejected_rows, error = parse_csv(text)
    if error:
        return Report(dry_run=dry_run, error=error)
    if len(entries) + len(rejected_rows) > settings.SITEALERT["IMPORT_MAX_ROWS"]:
        return Report(dry_run=dry_run, error=_("The file has more than %(n)d rows. Split it into smaller files.") % {
            "n": settings.SITEALERT["IMPORT_MAX_ROWS"]})
    if rejected_rows and not accept_valid_rows:
        dry_run_inner = True
    else:
        dry_run_inner = dry_run
    report = submit_entries(contributor, entries, actor=actor, dry_run=dry_run_inner,
                            accept_valid_rows=accept_valid_rows, progress=progress)
    report.dry_run = dry_run
    report.rows = sorted(report.rows + rejected_rows, key=lambda r: r.row or 0)
    if rejected_rows and not accept_valid_rows:
        report.applied = False
        report.version = None
    audit.record(actor, "import.csv", contributor.slug, {
        "bytes": len(data), "applied": report.applied, "dry_run": dry_run, "counts": report.counts})
    return report


# --- protected targets (operator) ---------------------------------------------------------------

def add_protected_target(raw, reason, *, actor):
    """Operator: never publish a listing equal to, covering or under `raw` without review."""
    permissions.require(permissions.can_moderate(actor) or actor.via == "cli")
    target = normalize_target(raw)  # InvalidTarget carries the reason
    if ":" in target:
        raise ValueError(_("Only domains can be protected targets."))
    with transaction.atomic():
        protected, created = ProtectedTarget.objects.get_or_create(
            target=target, defaults={"reason": (reason or "").strip()[:200], "created_by": actor.user})
        if created:
            audit.record(actor, "protected.add", target, {"reason": protected.reason})
    return protected


def remove_protected_target(protected, *, actor):
    permissions.require(permissions.can_moderate(actor) or actor.via == "cli")
    with transaction.atomic():
        audit.record(actor, "protected.remove", protected.target, {"reason": protected.reason})
        protected.delete()
