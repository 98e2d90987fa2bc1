"""Listings from an uploaded CSV file: its bytes decoded, its rows read, then one submission.

Everything about the file itself lives here: the encodings and spreadsheet workbooks refused with
a reason a person can act on, the byte order mark, the separator (comma, semicolon or tab) read
from the header row, rows numbered as a spreadsheet shows them, and the size and row limits. The
rows read are handed to `services.submit_entries` like those of any other entry point.
"""

import csv
import io

from django.utils.translation import gettext as _

from sitealert.core import audit, bulk
from sitealert.core.conf import setting
from sitealert.core.lists import join_list
from sitealert.hosts import InvalidTarget, normalize_target
from sitealert.listings.services import REJECTED, EntryInput, Report, RowResult, echoed, submit_entries
from sitealert.organizations import permissions

CSV_COLUMNS = ("target", "category", "reference", "note")
REQUIRED_COLUMNS = ("target", "category")
MB = 1024 * 1024  # as file managers and docs/configuration.md count the upload limit
# Zip (.xlsx, .ods) and OLE2 (.xls) containers: what a spreadsheet program saves by default.
_SPREADSHEET_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
# Spreadsheet programs in many languages (French, Spanish, Russian…) write CSV with semicolons,
# as the comma is their decimal separator; tab-separated text comes from copying cells.
_SEPARATORS = (",", ";", "\t")


def decode_csv_bytes(data):
    """Return (text, error). Refuses UTF-16, non-UTF-8 and non-text files with a precise message."""
    if not data or not data.strip(b"\xef\xbb\xbf \t\r\n"):
        return None, _(
            "The file is empty. It needs a header row (target,category,reference,note) and at least one row.")
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    if utf16 or (len(data) > 3 and (data[1:2] == b"\x00" or data[0:1] == b"\x00")):
        return None, _("The file is encoded as UTF-16. Save it as 'CSV UTF-8' and upload it again.")
    if data.startswith(_SPREADSHEET_MAGIC):
        return None, _("This is a spreadsheet workbook (such as .xlsx or .ods), not a CSV file. In the spreadsheet "
                       "program, save the sheet as 'CSV UTF-8 (comma delimited)' and upload that file.")
    if b"\x00" in data[:4096]:
        return None, _("This is not a text file (it contains binary data). Upload the list as a CSV file saved as "
                       "'CSV UTF-8'.")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return None, _(
            "The file is not valid UTF-8 (first bad byte on line %(line)d). It looks like Latin-1 or "
            "Windows-1252: save it as 'CSV UTF-8' and upload it again.") % {"line": line}


class _PlainRows:
    """The rows of CSV text without a quote or NUL character, read as the csv module would.

    Such a file is lines of separated fields and nothing more, and splitting it is five times
    faster than the csv module on a million-row upload. Lines end at \\r\\n, \\n or \\r, as csv's do.
    """

    def __init__(self, text, separator):
        self.lines = _lines(text)
        self.separator = separator

    def __iter__(self):
        return self

    def __next__(self):
        line = next(self.lines)
        return line.split(self.separator) if line else []


def _lines(text):
    """text.split("\n") after universal newlines, one line at a time: the rows past a row limit are
    never made, and no list of every line doubles the text."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


def _separator(text):
    """The file's field separator, read from its header row: a comma unless the header has none
    and is the known columns separated by a semicolon or a tab."""
    header = text[:2000].replace("\r", "\n").partition("\n")[0]
    if "," not in header:
        for separator in _SEPARATORS[1:]:
            if separator in header and any(c.strip().strip('"').lower() in REQUIRED_COLUMNS
                                           for c in header.split(separator)):
                return separator
    return ","


def _csv_rows(text, separator):
    if '"' not in text and "\x00" not in text:
        return _PlainRows(text, separator)
    # strict: an unterminated quote is an error, not a field that silently swallows the rows after it.
    return csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)


def _is_target(text):
    try:
        normalize_target(text)
    except InvalidTarget:
        return False
    return True


def _csv_error(exc, row):
    """What is wrong with the record that starts in `row`, in words a person can act on."""
    problem = str(exc)
    if "unexpected end of data" in problem:
        return _('Row %(row)d opens a field with a double quote (") that is never closed, so the rest of the '
                 'file would be read as part of that field. Close the quote or remove it.') % {"row": row}
    if "expected after" in problem:
        return _('Row %(row)d has a double quote (") in the middle of a field. A field with double quotes must '
                 'be wholly enclosed in them, and a double quote inside it written twice ("").') % {"row": row}
    if "field larger than field limit" in problem:
        return _("Row %(row)d has a field of more than %(limit)d characters; no column of a listing takes that "
                 "much text.") % {"row": row, "limit": csv.field_size_limit()}
    return _('Row %(row)d cannot be read as CSV. Check its double quotes (") and separators.') % {"row": row}


def parse_csv(text, max_rows=None):
    """Return (entries, rejected_rows, error) from CSV text with a header row.

    More than `max_rows` data rows is an error as soon as the next one is read: the rows of a
    file over the limit are never all built.
    """
    separator = _separator(text)
    reader = _csv_rows(text, separator)
    try:
        header = next(reader)
    except csv.Error as exc:
        return [], [], _csv_error(exc, 1)
    except StopIteration:
        return [], [], _(
            "The file is empty. It needs a header row (target,category,reference,note) and at least one row.")
    typed = [h.strip() for h in header]
    columns = [h.lower() for h in typed]
    unknown = [h for h, c in zip(typed, columns) if c not in CSV_COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing or unknown or len(set(columns)) != len(columns):
        if len(missing) == len(REQUIRED_COLUMNS) and typed and _is_target(typed[0]):
            return [], [], _("Row 1 looks like a listing ('%(first)s'), not the header row. Add the header row "
                             "target,category,reference,note above it.") % {"first": echoed(typed[0])[:80]}
        details = []
        if missing:
            details.append(_("missing column(s): %(cols)s") % {"cols": join_list(missing)})
        if unknown:
            # The first few are enough: a header of 100,000 junk columns must not make a 100,000-item message.
            cols = join_list([repr(c[:40]) for c in unknown[:5]] + (["…"] if len(unknown) > 5 else []))
            details.append(_("unknown column(s): %(cols)s") % {"cols": cols})
        if len(set(columns)) != len(columns):
            details.append(_("a column appears twice"))
        return [], [], _("Row 1 must be the header row: target,category,reference,note (%(details)s).") % {
            "details": "; ".join(details)}
    width = len(columns)
    at = columns.index
    t, c = at("target"), at("category")
    r = at("reference") if "reference" in columns else None
    n = at("note") if "note" in columns else None
    entries, rejected = [], []
    append = entries.append
    # Rows are counted as a spreadsheet shows them: one per record, whatever line breaks its
    # quoted fields contain; the header is row 1.
    row_number = 1
    try:
        for row in reader:
            row_number += 1
            if (len(row) != width or not row[t].strip()) and not "".join(row).strip():
                continue  # a blank line
            if max_rows is not None and len(entries) + len(rejected) >= max_rows:
                return [], [], too_many_rows(max_rows)
            if len(row) != width:
                if len(row) > width:
                    rejected.append(RowResult(row=row_number, input=separator.join(row)[:300], status=REJECTED,
                                              reason=_("This row has %(found)d fields; the header has "
                                                       "%(expected)d.") % {"found": len(row), "expected": width}))
                    continue
                row = row + [""] * (width - len(row))
            append(EntryInput(row[t], row[c], "" if r is None else row[r], "" if n is None else row[n], None,
                              row_number))
    except csv.Error as exc:
        return [], [], _csv_error(exc, row_number + 1)
    if not entries and not rejected:
        return [], [], _("The file has a header row but no data rows.")
    return entries, rejected, None


def too_many_rows(limit):
    return _("The file has more than %(n)d rows. Split it into smaller files.") % {"n": limit}


def import_csv(contributor, data, *, actor, dry_run=False, accept_valid_rows=False, progress=None,
               while_writing=None):
    """Import a CSV file (bytes) of listings for `contributor`; one report, all-or-nothing by default.
    `while_writing`: as for `services.submit_entries`."""
    permissions.require(permissions.can_manage_listings(actor, contributor), permissions.why_not(actor))
    limit = setting("IMPORT_MAX_BYTES")
    if len(data) > limit:
        return Report(dry_run=dry_run, error=_(
            "The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files.") % {
            "size": f"{len(data) / MB:.1f}", "limit": f"{limit / MB:.1f}"})
    text, error = decode_csv_bytes(data)
    if error:
        return Report(dry_run=dry_run, error=error)
    with bulk.gc_paused():
        return _import_text(contributor, text, len(data), actor=actor, dry_run=dry_run,
                            accept_valid_rows=accept_valid_rows, progress=progress, while_writing=while_writing)


def _import_text(contributor, text, size, *, actor, dry_run, accept_valid_rows, progress, while_writing):
    entries, rejected_rows, error = parse_csv(text, setting("IMPORT_MAX_ROWS"))
    if error:
        return Report(dry_run=dry_run, error=error)
    if rejected_rows and not accept_valid_rows:
        dry_run_inner = True
    else:
        dry_run_inner = dry_run
    report = submit_entries(contributor, entries, actor=actor, dry_run=dry_run_inner,
                            accept_valid_rows=accept_valid_rows, progress=progress, while_writing=while_writing)
    report.dry_run = dry_run
    if rejected_rows:
        report.rows = sorted(report.rows + rejected_rows, key=lambda r: r.row or 0)
    if rejected_rows and not accept_valid_rows:
        report.applied = False
        report.version = None
    audit.record(actor, "import.csv", contributor.slug, {
        "bytes": size, "applied": report.applied, "dry_run": dry_run, "counts": report.counts})
    return report


