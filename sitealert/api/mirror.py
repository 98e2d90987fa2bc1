"""GET /mirror/metadata/<file> and /mirror/targets/<path>: the signed tree the worker publishes into
SITEALERT_MIRROR_DIR (docs/distribution.md), so that a client verifies this server with the same
code as any mirror. Metadata and hashes/ are public (rate-limited per client address); state.json,
lists/ and deltas/ need a feed token, like /feed."""

from urllib.parse import quote

from django.http import FileResponse, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Router

from sitealert.api.auth import feed_reader
from sitealert.api.errors import ApiError
from sitealert.api.schemas import Error
from sitealert.core import audit, ratelimit
from sitealert.core.actors import client_ip
from sitealert.core.conf import setting
from sitealert.distribution import serving

router = Router(tags=["mirror"])

PUBLIC_RESPONSES = {200: None, 400: Error, 404: Error, 429: Error}
RESPONSES = {**PUBLIC_RESPONSES, 401: Error, 403: Error}
FILE_CONTENT = {"content": {"application/json": {"schema": {"type": "string", "format": "binary"}},
                            "application/gzip": {"schema": {"type": "string", "format": "binary"}}}}


def _public_wait(request):
    wait = ratelimit.tally("mirror-public", ratelimit.client_key(client_ip(request)), setting("MIRROR_PUBLIC_RATE"),
                           setting("MIRROR_PUBLIC_WINDOW"))
    if wait:
        raise ApiError(429, "rate_limited", ngettext(
            "Too many requests from your address. Try again in %(n)d second.",
            "Too many requests from your address. Try again in %(n)d seconds.", wait) % {"n": wait},
            headers={"Retry-After": str(wait)})


def _serve(request, kind, relative):
    try:
        public = serving.is_public(kind, relative)
        if public:
            _public_wait(request)
        else:
            request.auth = feed_reader(request)
        mirror_file = serving.locate(kind, relative)
        handle = open(mirror_file.path, "rb")  # noqa: SIM115 - FileResponse closes it
    except serving.MirrorDisabled:
        raise ApiError(404, "mirror_disabled", _("This installation publishes no signed mirror.")) from None
    except serving.InvalidPath:
        raise ApiError(400, "invalid_path", _(
            "A mirror path is made of names of letters, digits, '.', '-' and '_' between slashes, none starting "
            "with a dot.")) from None
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise ApiError(404, "not_found", _("Not found.")) from None
    if mirror_file.lists_the_entries and request.META.get("REQUEST_METHOD") != "HEAD":
        audit.count(request.auth, "feed.download", f"mirror:{relative}", None)
    prefix = setting("MIRROR_ACCEL_REDIRECT")
    if prefix:
        handle.close()
        response = HttpResponse(content_type=mirror_file.content_type)
        response["X-Accel-Redirect"] = prefix + quote(f"{kind}/{relative}")
    else:
        response = FileResponse(handle, content_type=mirror_file.content_type)
        response.block_size = 1 << 20
    scope = "public" if mirror_file.public else "private"
    # Versioned and hash-named files never change; timestamp.json and root.json do.
    response["Cache-Control"] = (f"{scope}, max-age=31536000, immutable" if mirror_file.immutable
                                 else f"{scope}, max-age=60")
    return response


@router.get(
    "/mirror/metadata/{name}",
    auth=None,
    response=PUBLIC_RESPONSES,
    summary="Signed metadata of the mirror tree",
    description=(
        "Public, no token; rate-limited per client address. The TUF metadata of the signed static tree "
        "this installation publishes (docs/distribution.md): `root.json` and `<N>.root.json`, `timestamp.json`, "
        "`<N>.snapshot.json`, `<N>.targets.json`, `<N>.hashes.json`. Point a TUF client (or `sitealert sync "
        "--mirror`) at `/api/v1/mirror/` with the pinned root. `404` when the installation publishes no tree "
        "(`mirror_disabled`) or the file does not exist; `400` for a name that cannot be one of these."
    ),
    openapi_extra={"responses": {200: FILE_CONTENT}},
)
def mirror_metadata(request, name: str):
    return _serve(request, "metadata", name)


@router.get(
    "/mirror/targets/{path:path}",
    auth=None,
    response=RESPONSES,
    summary="A file of the mirror tree",
    description=(
        "A target file of the signed tree, by its consistent-snapshot name (`<dir>/<sha256>.<name>`, as TUF "
        "clients ask for it). `state.json`, `lists/` and `deltas/` hold the list in clear: they need a token "
        "with the feed scope, like `/feed` (401/403/429 as there). `hashes/` (the private lookup's shards) is "
        "public, rate-limited per client address. Files are gzip documents served as they are (no "
        "`Content-Encoding`): verify them against the signed metadata, then decompress. `400` for a path with "
        "`..`, a hidden name or other characters; `404` when missing."
    ),
    openapi_extra={"responses": {200: FILE_CONTENT}, "security": [{"TokenAuth": []}, {}]},
)
def mirror_targets(request, path: str):
    return _serve(request, "targets", path)
