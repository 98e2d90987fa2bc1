"""GET /feed and /feed/changes: the aggregated list for authorized users and the operator."""

import os
from contextlib import contextmanager
from urllib.parse import quote

from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from ninja import Router

from sitealert.api.auth import feed_reader
from sitealert.api.errors import ApiError, json_response
from sitealert.api.schemas import ERRORS, ChangesDocument, Error, FeedDocument, ResyncRequired, query_parameters
from sitealert.core import audit
from sitealert.core.conf import setting
from sitealert.core.middleware import accepts_gzip
from sitealert.feed import builder
from sitealert.feed.models import FeedEntry
from sitealert.feed.state import current_state, known_checksum
from sitealert.monitoring.metadata import entry_metadata

router = Router(tags=["feed"], auth=feed_reader)

MAX_VERSION_DIGITS = 100  # well under Python's 4,300-digit limit for int()


def if_none_match(request):
    """The entity tags of If-None-Match, without weak prefixes (weak comparison, RFC 9110)."""
    header = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _version_headers(response, version, checksum):
    response["X-SiteAlert-Version"] = str(version)
    if checksum:
        response["X-SiteAlert-Checksum"] = checksum
    response["Cache-Control"] = "private, no-cache"
    return response


def not_modified(etag, version, checksum):
    """304 Not Modified for a document whose entity tag the client holds, with its version headers."""
    response = HttpResponseNotModified()
    response["ETag"] = etag
    response["Vary"] = "Accept-Encoding"
    return _version_headers(response, version, checksum)


def _document_response(document, filename, gzipped):
    """The cached document with the headers every feed document carries (encoding, ETag, version,
    checksum). Its body is sent by the reverse proxy when SITEALERT_ACCEL_REDIRECT names its internal
    location for FEED_CACHE_DIR (the worker answers with headers only), else by the server."""
    prefix = setting("ACCEL_REDIRECT")
    if not prefix:
        response = FileResponse(document.file, content_type=document.content_type, filename=filename)
        response.block_size = 1 << 20  # servers without sendfile iterate the file; 4 KB blocks: 35,000 steps a list
    else:
        # The cache keeps FEED_CACHE_DIR/<epoch>/<file>; the proxy maps the prefix onto that directory.
        location = prefix + quote(f"{document.epoch}/{os.path.basename(document.file.name)}")
        document.file.close()
        response = HttpResponse(content_type=document.content_type)
        response["X-Accel-Redirect"] = location
        response["Content-Disposition"] = content_disposition_header(False, filename)
    # GZipMiddleware leaves a response alone once it has a Content-Encoding (it would compress
    # the file again); sitealert.core.middleware.GZipMiddleware honours "gzip;q=0".
    if gzipped:
        response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept-Encoding"
    response["ETag"] = document.etag
    return _version_headers(response, document.version, document.checksum)


@router.get(
    "/feed",
    response={200: FeedDocument, 304: None, 400: Error, **ERRORS},
    summary="Download the aggregated list",
    description=(
        "The full aggregated list at the current version. `format=json` (default) returns the SPEC "
        "document `{version, checksum, entries}`; `format=txt` one target per line, sorted; `format=csv` "
        "the columns target, kind, countries, categories, first_listed_at (space-separated lists). "
        "Every format carries `X-SiteAlert-Version` and `X-SiteAlert-Checksum` and an `ETag`: send it "
        "back in `If-None-Match` to get `304 Not Modified` while the list is unchanged. The body is "
        "gzip-compressed when `Accept-Encoding` allows it. Verify the checksum: SHA-256 over the sorted "
        "targets, each followed by a newline. Where the installation's proxy sends the documents "
        "(`SITEALERT_ACCEL_REDIRECT`), an interrupted download resumes with `Range` (`206 Partial Content`)."
    ),
    openapi_extra={
        **query_parameters(
            ("format", {"type": "string", "enum": list(builder.FORMATS), "default": "json"}, "json, txt or csv",
             False)),
        "responses": {200: {"content": {"text/plain": {"schema": {"type": "string"}},
                                        "text/csv": {"schema": {"type": "string"}}}},
                      206: {"description": "The byte range asked for with `Range`, where the installation's proxy "
                                           "sends the documents (`SITEALERT_ACCEL_REDIRECT`)."}},
    },
)
def feed(request):
    fmt = request.GET.get("format", "json")
    if fmt not in builder.FORMATS:
        raise ApiError(400, "invalid_format", _("Unknown format '%(value)s': use json, txt or csv.") % {
            "value": fmt[:20]})
    gzipped = accepts_gzip(request)
    tags = if_none_match(request)
    if tags:
        state = current_state()
        if "*" in tags or tags & {builder.etag(state, fmt), builder.etag(state, fmt, gzipped=True)}:
            return not_modified(builder.etag(state, fmt, gzipped), state.version, known_checksum(state))
    document = builder.open_feed(fmt, gzipped)
    if request.META.get("REQUEST_METHOD") != "HEAD":  # HEAD reads the headers only: not a download
        audit.count(request.auth, "feed.download", fmt, {"version": document.version})
    return _document_response(document, f"sitealert-v{document.version}.{fmt}", gzipped)


def read_since(request):
    """The `since` parameter as a version, or the API's 400 invalid_since."""
    since = request.GET.get("since")
    if since is None or since == "":
        raise ApiError(400, "invalid_since", _("The parameter 'since' is required: the version you hold, 0 for none."))
    if not since.isascii() or not since.isdigit() or len(since) > MAX_VERSION_DIGITS:
        raise ApiError(400, "invalid_since", _("'since' must be a non-negative integer version, not '%(value)s'.") % {
            "value": since[:30]})
    # More digits than any database sequence holds is still a version, one ahead of the server.
    return int(since)


@contextmanager
def since_refusals(since):
    """A document since a version the server cannot answer from: 400 version_ahead, 410 resync_required."""
    try:
        yield
    except builder.FromTheFuture as exc:
        version = exc.args[0]
        raise ApiError(400, "version_ahead", _(
            "Version %(since)d is ahead of this server, which is at version %(version)d. Download the full "
            "feed.") % {"since": since, "version": version}, version=version) from None
    except builder.ResyncRequired as exc:
        pruned_through = exc.args[0]
        raise ApiError(410, "resync_required", _(
            "The changes after version %(since)d are no longer kept (history starts after version %(pruned)d). "
            "Download the full feed.") % {"since": since, "pruned": pruned_through},
            version=builder.current_version(), pruned_through=pruned_through) from None


@router.get(
    "/feed/changes",
    response={200: ChangesDocument, 304: None, 400: Error, 410: ResyncRequired, **ERRORS},
    summary="Changes since a version",
    description=(
        "What changed in the aggregated list after version `since`: for each target, its entry with "
        '`"listed": true` or a tombstone `{"target", "kind", "listed": false}`. Applying them to the list '
        "at `since` yields the list at `version`; check the result against `checksum`. `410` with "
        '`"error": "resync_required"` when `since` is older than the retained history (download the full '
        "feed), `400` when `since` is ahead of the server or not a non-negative integer. The document is "
        "rendered once per `since` and version and carries an `ETag`: send it back in `If-None-Match` to "
        "get `304 Not Modified` while the list is unchanged. The body is gzip-compressed when "
        "`Accept-Encoding` allows it."
    ),
    openapi_extra=query_parameters(
        ("since", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
         "The version the client holds (0 for none).", True)),
)
def changes(request):
    since = read_since(request)
    gzipped = accepts_gzip(request)
    with since_refusals(since):
        tags = if_none_match(request)
        if tags:
            state = builder.feed_state()
            builder.check_since(since, state)
            if "*" in tags or tags & {builder.changes_etag(state, since), builder.changes_etag(state, since, True)}:
                return not_modified(builder.changes_etag(state, since, gzipped), state.version,
                                    builder.cached_checksum(state))
        document = builder.open_changes(since, gzipped)
    return _document_response(document, f"sitealert-changes-{since}-v{document.version}.json", gzipped)


@router.get(
    "/feed/monitoring",
    response={200: dict, **ERRORS},
    summary="Monitoring metadata of the listed domains",
    description=(
        "For each domain of the aggregated list, what the monitoring worker saw at its last probe: "
        '`status` (`online`, `offline` or `unknown` when not probed yet), `checked_at`, and `redirects_to` '
        "(hosts on other registrable domains the site redirected to, in order). Kept apart from `/feed` so "
        "the list's versions and checksum are not disturbed by probes, which change without a new version."
    ),
)
def feed_monitoring(request):
    version = builder.current_version()
    metadata = entry_metadata(FeedEntry.objects.filter(kind="domain").values_list("target", flat=True))
    return json_response({"version": version,
                          "entries": [{"target": target, **metadata[target]} for target in sorted(metadata)]})
