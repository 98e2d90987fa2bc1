"""Every change to listings goes through these functions: web form, CSV upload, API and CLI."""

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import itemgetter

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sitealert.core import audit, bulk, metrics
from sitealert.core.lists import join_list
from sitealert.core.target_messages import translated_reason
from sitealert.hosts import InvalidTarget, normalize_target
from sitealert.listings.changelog import Added, refresh_targets
from sitealert.listings.models import Category, Kind, Listing, protected_target_reason, reason_text
from sitealert.listings.protection import ProtectedIndex
from sitealert.organizations import permissions
from sitealert.organizations.models import Organization

ACCEPTED, UNCHANGED, HELD, REJECTED = "accepted", "unchanged", "held", "rejected"
MAX_REFERENCE = 200
MAX_NOTE = 5000
BATCH = 900


@dataclass(slots=True)
class EntryInput:
    target: str
    category: str = ""
    reference: str = ""
    note: str = ""
    review_after: date | None = None
    row: int | None = None
    listed_at: datetime | None = None  # when an existing national list is carried over with its dates


@dataclass(slots=True)
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
        return self._summary(self.counts)

    def _summary(self, c):
        if self.error:
            return self.error
        if self.applied:
            parts = _("%(accepted)d accepted, %(unchanged)d unchanged, %(held)d held, %(rejected)d rejected.") % c
        else:
            parts = _("%(accepted)d would be accepted, %(unchanged)d unchanged, %(held)d would be held, "
                      "%(rejected)d rejected.") % c
        if self.dry_run:
            return _("Dry run, nothing was changed: ") + parts
        if not self.applied and c[REJECTED]:
            return ngettext(
                "Nothing was changed because %(n)d row was rejected. Correct it, or choose to accept the valid "
                "rows.",
                "Nothing was changed because %(n)d rows were rejected. Correct them, or choose to accept the valid "
                "rows.",
                c[REJECTED]) % {"n": c[REJECTED]} + " " + parts
        return parts

    def as_dict(self, rows=True):
        """The report as the API answers it; without `rows`, all but the rows (the last key)."""
        counts = self.counts  # a pass over every row: once
        data = {
            "applied": self.applied, "dry_run": self.dry_run, "error": self.error or None,
            "version": self.version, "counts": counts, "summary": str(self._summary(counts)),
        }
        if rows:
            data["rows"] = [r.as_dict() for r in self.rows]
        return data


def _storable(text):
    """Text both databases can store: no NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def echoed(text):
    """What the person sent, safe to show back (lone surrogates become U+FFFD)."""
    text = text.strip()[:300]
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _read_target(row, raw):
    """The report row of one submitted target, with the target normalized, or rejected and why."""
    raw = raw if isinstance(raw, str) else ""
    result = RowResult(row, echoed(raw), ACCEPTED)
    try:
        result.target = normalize_target(raw)
    except InvalidTarget as exc:
        result.status, result.reason = REJECTED, translated_reason(exc)
    return result


def _clean_entries(entries, valid_categories):
    """Normalize and validate; returns (results, accepted, staged, dated) in input order.

    accepted: {target: (entry, result)}; staged: (target, category, reference, note) of each
    accepted row, as the staging table takes them; dated: (review_after, listed_at, target) of the
    accepted rows that carry either. This runs once per row of a million-row file, so the common case
    (a valid row) is kept to a few C-level operations and the messages are built only for rows
    that need one.
    """
    results = []
    accepted = {}
    staged, dated = [], []
    valid = frozenset(valid_categories)
    append = results.append
    for entry in entries:
        result = _read_target(entry.row, entry.target)
        append(result)
        target = result.target
        if target is None:
            continue
        category = entry.category
        if category not in valid:
            category = (category or "").strip().lower()
            if category not in valid:
                result.status, result.reason = REJECTED, _category_problem(category, valid_categories)
                continue
            entry.category = category
        reference, note = entry.reference, entry.note
        if reference or note:
            entry.reference = reference = (reference or "").strip()
            entry.note = note = (note or "").strip()
            if (len(reference) > MAX_REFERENCE or len(note) > MAX_NOTE or "\x00" in reference or "\x00" in note
                    or not (reference + note).isascii()):
                problem = _text_problem(reference, note)
                if problem:
                    result.status, result.reason = REJECTED, problem
                    continue
        else:
            entry.reference = entry.note = reference = note = ""
        first = accepted.get(target)
        if first is not None:
            result.status, result.reason = REJECTED, _duplicate(target, first[0].row)
            continue
        accepted[target] = (entry, result)
        staged.append((target, category, reference, note))
        if entry.review_after is not None or entry.listed_at is not None:
            dated.append((entry.review_after, entry.listed_at, target))
    return results, accepted, staged, dated


def _category_problem(category, valid_categories):
    if not category:
        return _("The category is missing. Use one of: %(choices)s.") % {"choices": join_list(valid_categories)}
    return _("Unknown category '%(value)s'. Use one of: %(choices)s.") % {
        "value": echoed(category)[:50], "choices": join_list(valid_categories)}


def _text_problem(reference, note):
    if len(reference) > MAX_REFERENCE:
        return _("The reference is longer than %(n)d characters.") % {"n": MAX_REFERENCE}
    if len(note) > MAX_NOTE:
        return _("The note is longer than %(n)d characters.") % {"n": MAX_NOTE}
    if not _storable(reference) or not _storable(note):
        return _("The reference or note contains a NUL character or an invalid Unicode code point; "
                 "remove it and try again.")
    return ""


def _shown(value):
    """A listing's value as an audit item shows it: text, and no value as the empty text."""
    return "" if value is None else str(value)


def _duplicate(target, row):
    if row is not None:
        return _("Duplicate: '%(target)s' already appears in row %(row)s.") % {"target": target, "row": row}
    return _("Duplicate: '%(target)s' appears twice.") % {"target": target}


LISTING_COLUMNS = ["target", "kind", "contributor_id", "category", "reference", "listed_at", "review_after", "note",
                   "status", "status_reason", "held_for", "status_changed_at", "created_at", "updated_at",
                   "creation_event_id"]
UPDATE_COLUMNS = ["category", "reference", "note", "review_after", "listed_at", "status", "status_reason",
                  "held_for", "status_changed_at", "updated_at"]
EDITABLE = ("category", "reference", "note", "review_after")
STAGE = "sitealert_submission"


def stage_definition():
    """The staging table's columns. Rows arrive with four values each; the rest are defaults, set
    afterwards for the few rows that differ. The targets are in the listings' order (bulk.target_key)."""
    return [bulk.target_key(), "category text", "reference text", "note text",
            "review_after date", "listed_at timestamp with time zone", "kind text DEFAULT 'domain'",
            "status text DEFAULT 'active'", "status_reason text DEFAULT ''", "held_for text DEFAULT ''"]


def _classify(stage, contributor_id, staged):
    """Compare the `staged` rows in `stage` with the contributor's listings, in the database.

    Returns the listings that need a decision in Python — removed or held ones, and those whose
    values differ — as {target: {field: raw value}}, and the number of staged targets the
    contributor already lists. Afterwards the stage holds only the targets new to the contributor.
    """
    q = connection.ops.quote_name
    table = q(Listing._meta.db_table)
    fields = ("id", "target", "status", "status_reason", "held_for", "status_changed_at", "listed_at") + EDITABLE
    distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    # Each staged row looks its listing up by the (target, contributor) key: joined by hashing,
    # a large contributor's whole list was read twice per upload, and the upload's cost grew
    # with the list (4 s more at 4M listings; bulk.lookup_join, bulk.probe).
    known = f"EXISTS (SELECT 1 FROM {table} l WHERE l.target = {stage}.target AND l.contributor_id = %s{bulk.probe()})"
    differs = (f"(l.status <> 'active' OR l.category <> s.category OR l.reference <> s.reference "
               f"OR l.note <> s.note OR l.review_after {distinct} s.review_after)")
    listing = bulk.lookup_join(table, "l", "l.target = s.target AND l.contributor_id = %s")
    columns = ", ".join("l." + q(f) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: the rows the contributor lists leave the stage, and only they are
            # looked up again for their values. A new row (most rows of a large upload) costs
            # one lookup instead of two (a second per 666,667 rows).
            cursor.execute(
                f"WITH s AS (DELETE FROM {stage} WHERE {known} "
                f"RETURNING target, category, reference, note, review_after) "
                f"SELECT {columns} FROM s {listing} WHERE {differs}",
                [contributor_id, contributor_id])
            found = {row[1]: dict(zip(fields, row)) for row in cursor.fetchall()}
            cursor.execute(f"SELECT COUNT(*) FROM {stage}")
            return found, staged - cursor.fetchone()[0]
        # SQLite plans without statistics and must not walk all of a large contributor's listings
        # for a one-row submission: the stage is the outer table of the LEFT JOIN.
        cursor.execute(f"SELECT {columns} FROM {stage} s {listing} WHERE l.id IS NOT NULL AND {differs}",
                       [contributor_id])
        found = {row[1]: dict(zip(fields, row)) for row in cursor.fetchall()}
        cursor.execute(f"DELETE FROM {stage} WHERE {known}", [contributor_id])
        return found, cursor.rowcount


def _staged_targets(stage):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT target FROM {stage}")
        return [row[0] for row in cursor.fetchall()]


def submit_entries(contributor, entries, *, actor, dry_run=False, accept_valid_rows=False, progress=None,
                   while_writing=None):
    """Add or update listings of `contributor`. All-or-nothing unless `accept_valid_rows`.

    The accepted rows go into a temporary table; the database compares them with the existing
    listings and writes new listings, their audit events and the change log set by set. Python
    sees only what needs a decision: rows that update, relist or hit a protected target.

    `while_writing(rows)`, if given, runs in a thread of its own while the database writes, with
    the report's rows, whose statuses are final by then: the API renders them there, in the
    seconds a large submission waits for the database (the thread holds Python's lock only while
    this one waits). It must not change the rows; what it raises is raised here.
    """
    permissions.require(permissions.can_manage_listings(actor, contributor), permissions.why_not(actor))
    valid_categories = [c.value for c in Category]
    report = Report(dry_run=dry_run)
    with bulk.gc_paused():
        report.rows, accepted, staged, dated = _clean_entries(list(entries), valid_categories)
        rejected = report.counts[REJECTED]
        with transaction.atomic():
            _submit(contributor, accepted, staged, dated, report, actor=actor,
                    apply=not (dry_run or (rejected and not accept_valid_rows)), progress=progress,
                    while_writing=while_writing)
    if report.applied:
        metrics.count_listings("accepted", actor.via, report.counts[ACCEPTED])
    return report


def _submit(contributor, accepted, rows, dated, report, *, actor, apply, progress, while_writing=None):
    """Stage the accepted rows, decide in the database what each does to the contributor's
    listings, and apply the decisions; without `apply`, only the report's rows are filled in."""
    now = timezone.now()
    with bulk.temporary_table(STAGE, stage_definition()) as stage, connection.cursor() as cursor:
        targets = _stage(cursor, stage, rows, dated, now)
        total = len(targets)
        if progress is not None:
            progress(total // 4, total)
        decisions = _decide(stage, contributor, targets, accepted, now)
        if not apply:
            transaction.set_rollback(True)
            return
        if progress is not None:
            progress(total // 2, total)
        with alongside(while_writing, report.rows):
            _apply(cursor, stage, contributor, targets, decisions, report, actor=actor, now=now, progress=progress)


@contextmanager
def alongside(task, *args):
    """Run task(*args) in a thread while the block runs; wait for it, and raise what it raised."""
    if task is None:
        yield
        return
    failure = []

    def run():
        try:
            task(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="sitealert-while-writing")
    thread.start()
    try:
        yield
    finally:
        thread.join()
    if failure:
        raise failure[0]


def _stage(cursor, stage, rows, dated, now):
    """Put the accepted rows into the staging table, with the dates and kinds of the few that
    have them; return the staged targets, sorted."""
    # Sorted, the rows enter the staging table's and the listing table's indexes in order.
    rows.sort(key=itemgetter(0))
    targets = list(map(itemgetter(0), rows))
    # The rows with dates go in with them (a federated list dates every row), the others as they are.
    dates = {target: (None if review_after is None else bulk.db_date(review_after),
                      None if listed_at is None else bulk.db_datetime(min(listed_at, now)))
             for review_after, listed_at, target in dated}
    bulk.insert_rows(stage, ["target", "category", "reference", "note"],
                     [row for row in rows if row[0] not in dates] if dates else rows)
    if dates:
        bulk.insert_rows(stage, ["target", "category", "reference", "note", "review_after", "listed_at"],
                         [(*row, *dates[row[0]]) for row in rows if row[0] in dates])
    app = str(Kind.APP)
    cursor.executemany(f"UPDATE {stage} SET kind = %s WHERE target = %s",
                       [(app, target) for target in targets if ":" in target])
    bulk.analyze(stage, len(targets))
    return targets


@dataclass(slots=True)
class _Decisions:
    """What a submission does to the contributor's listings, decided before anything is written."""

    existing: int  # staged targets the contributor already lists
    holds: list  # (status, held_for, target) of the new listings held for a protected target
    updates: list  # UPDATE_COLUMNS values and id of each existing listing that changes
    audit_items: list  # (target, detail) of each existing listing updated or relisted


def _decide(stage, contributor, targets, accepted, now):
    """Compare the staged rows with the contributor's listings and protected targets, mark each
    row's result, and return the writes they call for. Afterwards the stage holds only the
    targets new to the contributor."""
    changed, existing = _classify(stage, contributor.pk, len(targets))
    protected = ProtectedIndex()
    new_targets = None
    if existing > len(changed) or protected.protected:
        new_targets = _staged_targets(stage)
    if existing > len(changed):
        for target in set(targets).difference(new_targets, changed):
            accepted[target][1].status = UNCHANGED
    holds = _new_holds(new_targets, protected, accepted) if protected.protected else []
    updates, audit_items = _existing_changes(changed, accepted, protected, now)
    return _Decisions(existing, holds, updates, audit_items)


def _new_holds(new_targets, protected, accepted):
    """The new listings that hit a protected target, as (status, held_for, target)."""
    held = str(Listing.Status.HELD)
    holds = []
    for target in new_targets:
        hit = protected.conflict(target)
        if hit:
            result = accepted[target][1]
            result.status, result.reason = HELD, protected_target_reason(target, hit)
            holds.append((held, hit, target))
    return holds


def _existing_changes(changed, accepted, protected, now):
    """(updates, audit_items) for the listings `_classify` found to differ: a removed listing is
    relisted (held if it hits a protected target), an active or held one takes the new values."""
    db_now = bulk.db_datetime(now)
    # Plain strings in loops: enum attribute lookups cost more than the rest of a row.
    active, held, removed = str(Listing.Status.ACTIVE), str(Listing.Status.HELD), str(Listing.Status.REMOVED)
    updates, audit_items = [], []
    for target, listing in changed.items():
        entry, result = accepted[target]
        review_after = None if entry.review_after is None else bulk.db_date(entry.review_after)
        if listing["status"] == removed:
            hit = protected.conflict(target)
            if hit:
                status, held_for = held, hit
                result.status, result.reason = HELD, protected_target_reason(target, hit)
            else:
                status, held_for = active, ""
            listed_at = db_now if entry.listed_at is None else bulk.db_datetime(min(entry.listed_at, now))
            updates.append((entry.category, entry.reference, entry.note, review_after, listed_at,
                            status, "", held_for, db_now, db_now, listing["id"]))
            audit_items.append((target, {"event": "relisted", "status": status, "category": entry.category,
                                         "reference": entry.reference}))
            continue
        if listing["status"] == held:
            result.status, result.reason = HELD, reason_text(target, listing["status_reason"], listing["held_for"])
        values = {"category": entry.category, "reference": entry.reference, "note": entry.note,
                  "review_after": review_after}
        differs = sorted(k for k, v in values.items() if listing[k] != v)
        if not differs:
            if result.status != HELD:
                result.status = UNCHANGED
            continue
        updates.append((entry.category, entry.reference, entry.note, review_after,
                        listing["listed_at"], listing["status"], listing["status_reason"], listing["held_for"],
                        listing["status_changed_at"], db_now, listing["id"]))
        # The values before as well as after: with them, a listing's audit items and its
        # creation event (Listing.creation_event) tell its whole history. Notes stay private.
        shown = [k for k in differs if k != "note"]
        audit_items.append((target, {"event": "updated", "fields": differs,
                                     **{k: _shown(values[k]) for k in shown},
                                     "was": {k: _shown(listing[k]) for k in shown}}))
    return updates, audit_items


def _apply(cursor, stage, contributor, targets, decisions, report, *, actor, now, progress):
    """Write the decisions: the audit event, the new listings from the stage, the updates and
    the change log, each in a statement or a batch."""
    db_now = bulk.db_datetime(now)
    total = len(targets)
    lock_contributor(contributor)
    created = total - decisions.existing
    event = _record_submission(actor, contributor, targets, created, decisions.audit_items)
    cursor.executemany(f"UPDATE {stage} SET status = %s, held_for = %s WHERE target = %s", decisions.holds)
    _insert_staged(cursor, stage, contributor, event, db_now)
    bulk.update_rows(Listing._meta.db_table, UPDATE_COLUMNS, "id", decisions.updates)
    bulk.refresh_statistics([Listing], created + len(decisions.updates))
    if progress is not None:
        progress(total * 3 // 4, total)
    report.version = refresh_targets([target for target, _ in decisions.audit_items], now,
                                     added=Added(stage, contributor.country, contributor.id))
    report.applied = True
    if progress is not None:
        progress(total, total)


def _record_submission(actor, contributor, targets, created, audit_items):
    """One event for the submission, or None if it changes nothing. The listings it creates
    point to it (their creation event); the listings it updates or relists get an item each."""
    if not (created or audit_items):
        return None
    event = audit.record(actor, "listing.submit", targets[0] if len(targets) == 1 else contributor.slug, {
        "contributor": contributor.slug, "items": created + len(audit_items), "created": created,
        "updated": sum(1 for _, d in audit_items if d["event"] == "updated"),
        "relisted": sum(1 for _, d in audit_items if d["event"] == "relisted")})
    audit.add_items(event, audit_items)
    return event


def _insert_staged(cursor, stage, contributor, event, db_now):
    """The new listings, straight from the stage, in one INSERT … SELECT."""
    q = connection.ops.quote_name
    field = Listing._meta.get_field
    cursor.execute(
        f"INSERT INTO {q(Listing._meta.db_table)} ({', '.join(q(c) for c in LISTING_COLUMNS)}) "
        f"SELECT target, kind, {bulk.cast_param(field('contributor'))}, category, reference, "
        f"COALESCE(listed_at, {bulk.cast_param(field('listed_at'))}), review_after, note, status, status_reason, "
        f"held_for, "
        f"{bulk.cast_param(field('status_changed_at'))}, {bulk.cast_param(field('created_at'))}, "
        f"{bulk.cast_param(field('updated_at'))}, {bulk.cast_param(field('creation_event'))} "
        f"FROM {stage} ORDER BY target",
        [contributor.pk, db_now, db_now, db_now, db_now, event.pk if event is not None else None])


def lock_contributor(contributor):
    """Hold `contributor`'s row against deletion until this transaction ends, as a foreign key
    check would (Listing.contributor has no database constraint, see there): once, instead of
    once per new listing; refuse to write listings for an organization that is gone."""
    q = connection.ops.quote_name
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {q(Organization._meta.db_table)} WHERE id = %s{lock}", [contributor.pk])
        if cursor.fetchone() is None:
            raise Organization.DoesNotExist(f"organization {contributor.pk} no longer exists")


def remove_listings(contributor, raw_targets, reason, *, actor, accept_valid_rows=False, dry_run=False,
                    removed_at=None):
    """Remove listings of `contributor` with a reason. All-or-nothing unless `accept_valid_rows`.

    `removed_at` dates a removal decided earlier (as `EntryInput.listed_at` dates a listing), never
    later than now nor before the listing's own date; the change log records when it happened here.
    """
    permissions.require(permissions.can_manage_listings(actor, contributor), permissions.why_not(actor))
    report = Report(dry_run=dry_run)
    reason = (reason or "").strip()
    if not reason:
        report.error = _("A reason is required to remove a listing.")
        return report
    wanted = {}
    for i, raw in enumerate(raw_targets, start=1):
        result = _read_target(i, raw)
        report.rows.append(result)
        target = result.target
        if target is None:
            continue
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
                    listing.status_reason, listing.held_for = reason, ""
                    listing.status_changed_at = now if removed_at is None else max(min(removed_at, now),
                                                                                   listing.listed_at)
                    listing.updated_at = now
                    removed.append(listing)
        if dry_run or (report.counts[REJECTED] and not accept_valid_rows):
            transaction.set_rollback(True)
            return report
        # One UPDATE a batch (the same values for every row; a dated removal is clamped to each
        # listing's own date in SQL): bulk_update's CASE per row cost Python time that grew
        # faster than the rows (1,500 removals: 8.4 s under a profiler).
        ids = [listing.pk for listing in removed]
        changed_at = now if removed_at is None else Greatest(Value(min(removed_at, now)), F("listed_at"))
        for start in range(0, len(ids), BATCH):
            Listing.objects.filter(pk__in=ids[start:start + BATCH]).update(
                status=Listing.Status.REMOVED, status_reason=reason, held_for="", status_changed_at=changed_at,
                updated_at=now)
        audit.record_many(actor, "listing.remove", [(l.target, {"reason": reason}) for l in removed],
                          object_repr=contributor.slug, detail={"contributor": contributor.slug, "reason": reason})
        report.version = refresh_targets([l.target for l in removed], now)
        report.applied = True
    metrics.count_listings("removed", actor.via, len(removed))
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
        Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.HELD, status_reason=reason, held_for="",
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
        Listing.objects.filter(pk=listing.pk).update(status=Listing.Status.ACTIVE, status_reason="", held_for="",
                                                     status_changed_at=now, updated_at=now)
        audit.record(actor, "listing.release", listing.target, {"contributor": listing.contributor.slug, "note": note})
        refresh_targets([listing.target], now)
