"""GET /check: the public, one-at-a-time check (no token; rate-limited per client)."""

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Router

from sitealert.api.errors import ApiError, json_response
from sitealert.api.schemas import NOT_BLANK, CheckResponse, Error, query_parameters
from sitealert.check.services import check_target, check_wait
from sitealert.core.actors import client_ip

router = Router(tags=["public"])


@router.get(
    "/check",
    auth=None,
    response={200: CheckResponse, 400: Error, 429: Error},
    summary="Check one domain, URL or app",
    description=(
        "Public, no token. Whether one domain, URL or app id is covered by an active listing, and for each "
        "such listing the authority (country, name), since when, and the link to its operating procedure, "
        "where a site operator learns how to ask for a review. Exactly one query per call, matched "
        "exactly after normalization (no wildcards, no partial names); rate-limited per client address "
        "(429 with Retry-After)."
    ),
    openapi_extra=query_parameters(
        ("q", NOT_BLANK, "A domain, URL or app id (android:<package>, ios:<id>).", True)),
)
def check(request):
    q = request.GET.get("q", "")
    wait = check_wait(client_ip(request))  # per client address; an IPv6 client by its /64
    if wait:
        raise ApiError(429, "rate_limited", ngettext(
            "Too many checks from your address. Try again in %(n)d second.",
            "Too many checks from your address. Try again in %(n)d seconds.", wait) % {"n": wait},
            headers={"Retry-After": str(wait)})
    if not q.strip():
        raise ApiError(400, "missing_query", _("Give the domain, URL or app to check in the parameter 'q'."))
    result = check_target(q)
    if result.error is not None:
        raise ApiError(400, "invalid_target", result.error, query=result.query)
    return json_response(result.as_dict(base_url=settings.SITE_URL))
