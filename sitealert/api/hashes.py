"""GET /hashes/{prefix}: the private lookup, public and rate-limited (no target travels in clear)."""

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Router

from sitealert.api.errors import ApiError
from sitealert.api.feed import if_none_match
from sitealert.api.schemas import Error, HashesDocument
from sitealert.core.actors import client_ip
from sitealert.feed import private
from sitealert.feed.state import current_state

router = Router(tags=["public"])

# Shared caches may keep an answer this long: a new version reaches a client at most a minute later.
CACHE_CONTROL = "public, max-age=60"


def _cacheable(response, state):
    response["ETag"] = private.etag(state)
    response["Cache-Control"] = CACHE_CONTROL
    response["X-SiteAlert-Version"] = str(state.version)
    return response


@router.get(
    "/hashes/{prefix}",
    auth=None,
    response={200: HashesDocument, 304: None, 400: Error, 429: Error},
    summary="Private lookup: the listed targets' hashes under a prefix",
    description=(
        "Public, no token. `prefix`: the first 4 hexadecimal digits of the SHA-256 (over the UTF-8 bytes) of a "
        "canonical target. The answer holds the full SHA-256 of every listed target whose hash starts with "
        "them (about 150 at 10 million listed targets), and the list's version: a client hashes the "
        "candidates of an item itself (its canonical target and each parent down to the registrable domain) "
        "and compares locally, so the item never reaches the server (docs/client.md, \"Private lookup\"). "
        "Any other length is `400`. Carries an `ETag` per version (`If-None-Match` gives `304`) and "
        "`Cache-Control: public, max-age=60`. Rate-limited per client address (429 with Retry-After)."
    ),
)
def hashes(request, prefix: str):
    wait = private.private_lookup_wait(client_ip(request))  # per client address; an IPv6 client by its /64
    if wait:
        raise ApiError(429, "rate_limited", ngettext(
            "Too many hash prefixes asked from your address. Try again in %(n)d second.",
            "Too many hash prefixes asked from your address. Try again in %(n)d seconds.", wait) % {"n": wait},
            headers={"Retry-After": str(wait)})
    try:
        prefix = private.parse_prefix(prefix)
    except ValueError:
        raise ApiError(400, "invalid_prefix", _(
            "A prefix is exactly %(n)d hexadecimal digits (0-9, a-f) of a target's SHA-256, not '%(value)s'.") % {
            "n": private.PREFIX_HEX, "value": prefix[:20]}) from None
    tags = if_none_match(request)
    if tags:
        state = current_state()
        if "*" in tags or private.etag(state) in tags:
            return _cacheable(HttpResponseNotModified(), state)
    body, current = private.prefix_document(prefix)
    return _cacheable(HttpResponse(body, content_type="application/json"), current)
