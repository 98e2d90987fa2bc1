"""Contributors change their own listings: POST /listings, /listings/remove and /imports.

Each answers the per-row report of `sitealert.listings.services`: 200 when applied (or a dry run),
422 when nothing was applied because rows were rejected, 400 for a problem with the whole request.
"""

import orjson
from django.utils.translation import gettext as _
from ninja import File, Form, Router
from ninja.files import UploadedFile

from sitealert.api.auth import listings_writer
from sitealert.api.errors import ApiError, json_response
from sitealert.api.schemas import ERRORS, Error, RemoveRequest, Report, SubmitRequest
from sitealert.core import bulk
from sitealert.core.conf import setting
from sitealert.listings import csv_import, services

router = Router(tags=["listings"], auth=listings_writer)

REPORT_RESPONSES = {200: Report, 413: Error, 422: Report | Error, **ERRORS}
REPORT_STATUSES = (
    "Answers the per-row report (`accepted`, `unchanged`, `held`, `rejected` with reason and row number): "
    "`200` when applied or for a dry run, `422` when nothing was applied because rows were rejected "
    "(unless `accept_valid_rows`), `400` for a problem with the whole request."
)


# A submission from this many rows (or an upload from this many bytes) has its report's rows
# rendered while the database writes; a smaller one is not worth a thread.
AHEAD_ROWS = 10_000
AHEAD_BYTES = 512 * 1024


class RowsAhead:
    """A report's rows as JSON, rendered in the seconds the database writes a large submission
    (`services.submit_entries`' `while_writing`): 0.3 s of a 666,667-row file off its time."""

    def __init__(self):
        self.rows = self.json = None

    def __call__(self, rows):
        self.json = orjson.dumps([r.as_dict() for r in rows])
        self.rows = rows


def report_response(report, code="invalid_request", ahead=None):
    if report.error:
        raise ApiError(400, code, report.error)
    status = 200 if report.applied or report.dry_run else 422
    data = report.as_dict(rows=False)
    # The rows rendered ahead are these very rows (an import adds the rows the CSV parser
    # rejected to a new list), whose statuses the service had decided before it wrote them.
    if ahead is not None and ahead.rows is report.rows:
        data["rows"] = orjson.Fragment(ahead.json)
    else:
        data["rows"] = [r.as_dict() for r in report.rows]
    return json_response(data, status=status)


def check_not_empty(count):
    """The most rows a request may have is checked while its body is read (`api.limits`)."""
    if not count:
        raise ApiError(400, "empty_request", _("The request has no rows."))


@router.post(
    "/listings",
    response=REPORT_RESPONSES,
    summary="Add or update listings",
    description=(
        "Adds the contributor's listings, or updates category, reference and note of existing ones. "
        "All-or-nothing unless `accept_valid_rows`; a target that equals or overlaps a protected target "
        "is held for operator review. " + REPORT_STATUSES
    ),
)
def submit(request, payload: SubmitRequest):
    check_not_empty(len(payload.entries))
    actor = request.auth
    entries = [services.EntryInput(target=e.target, category=e.category, reference=e.reference, note=e.note,
                                   review_after=e.review_after, row=i)
               for i, e in enumerate(payload.entries, start=1)]
    ahead = RowsAhead() if len(entries) >= AHEAD_ROWS else None
    with bulk.gc_paused():  # see import_file
        return report_response(services.submit_entries(
            actor.organization, entries, actor=actor, dry_run=payload.dry_run,
            accept_valid_rows=payload.accept_valid_rows, while_writing=ahead), ahead=ahead)


@router.post(
    "/listings/remove",
    response=REPORT_RESPONSES,
    summary="Remove listings",
    description=(
        "Removes the contributor's own listings of these targets, with a reason (required). A target the "
        "contributor does not list is rejected. " + REPORT_STATUSES
    ),
)
def remove(request, payload: RemoveRequest):
    check_not_empty(len(payload.targets))
    actor = request.auth
    return report_response(services.remove_listings(
        actor.organization, payload.targets, payload.reason, actor=actor, dry_run=payload.dry_run,
        accept_valid_rows=payload.accept_valid_rows), code="reason_required")


@router.post(
    "/imports",
    response=REPORT_RESPONSES,
    summary="Import a CSV file",
    description=(
        "multipart/form-data with the CSV in the field `file` (columns target,category,reference,note; "
        "header row required; UTF-8 with or without BOM) and optional fields `dry_run` and "
        "`accept_valid_rows` (true/false). Row numbers in the report are the file's line numbers. "
        "A problem with the file itself (encoding, header, size) is a `400`. " + REPORT_STATUSES
    ),
    # The view asks for the file itself, with its own message, rather than Django Ninja's 422.
    openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {"required": ["file"]}}}}},
)
def import_file(request, file: UploadedFile = File(None), dry_run: bool = Form(False),
                accept_valid_rows: bool = Form(False)):
    if file is None:
        raise ApiError(400, "missing_file", _("Send the CSV file in the multipart form field 'file'."))
    # One byte past the limit is enough for the service to refuse the size without reading the rest.
    # Never ask for more than the upload holds: a large upload is a file on disk, and reading a
    # count from a file allocates that many bytes first (a limit set very high failed that way).
    data = file.read(min(setting("IMPORT_MAX_BYTES"), file.size) + 1)
    actor = request.auth
    # The report is rendered with the collector still paused: let run again between the service
    # and the rendering, its collections rescan every object the rows left, again and again
    # (0.4 s of a 666,667-row file).
    ahead = RowsAhead() if len(data) >= AHEAD_BYTES else None
    with bulk.gc_paused():
        return report_response(csv_import.import_csv(actor.organization, data, actor=actor, dry_run=dry_run,
                                                     accept_valid_rows=accept_valid_rows, while_writing=ahead),
                               code="invalid_file", ahead=ahead)
