"""GET /check: the public, one-at-a-time check (no token; rate-limited per client)."""

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Router

from sitealert.api.errors import ApiError, json_response
from sitealert.api.schemas import NOT_BLANK, CheckResponse, Error, query_parameters
from sitealert.check.services import check_target, check_wait
from sitealert.core.actors import client_ip
from sitealert.feed.state import PerVersion, current_state

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
    answers = _answers.items(current_state())
    answer = answers.get(q)
    if answer is None:
        result = check_target(q)
        if result.error is not None:
            raise ApiError(400, "invalid_target", result.error, query=result.query)
        answer = result.as_dict(base_url=settings.SITE_URL)
        _answers.keep(answers, q, answer)
    return json_response(answer)


# The answers by query, kept for the list's version as the check page is (a query asked again costs
# no statement): no text in them depends on the language; at most about 5 MB.
_answers = PerVersion(max_items=10_000, max_seconds=60)
