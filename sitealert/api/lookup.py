"""POST /lookup: which of up to 10,000 items the aggregated list covers."""

from django.utils.translation import ngettext
from ninja import Router

from sitealert.api.auth import feed_reader
from sitealert.api.errors import ApiError, json_response
from sitealert.api.schemas import ERRORS, Error, LookupRequest, LookupResponse
from sitealert.core.conf import setting
from sitealert.feed.lookup import lookup as lookup_items

router = Router(tags=["feed"], auth=feed_reader)


@router.post(
    "/lookup",
    response={200: LookupResponse, 413: Error, 422: Error, **ERRORS},
    summary="Look up many items",
    description=(
        "For each raw URL, host or app id (at most 10,000 per request): its normalized `target` and "
        "`matched`, the most specific listed target that covers it (a listed domain covers its "
        "subdomains; an app matches exactly), or null. An item that is not a valid target gets "
        '`"target": null` and an `error` saying why (so does an item longer than 4,096 characters); '
        "the other items are still answered. `version` is "
        "the version of the list the answers come from."
    ),
)
def lookup(request, payload: LookupRequest):
    limit = setting("LOOKUP_MAX_ITEMS")
    if len(payload.items) > limit:
        count = len(payload.items)
        raise ApiError(413, "too_many_items", ngettext(
            "The request has %(n)d item; at most %(limit)d are allowed per request. Split it, or keep a "
            "replica of the list with the client SDK.",
            "The request has %(n)d items; at most %(limit)d are allowed per request. Split it, or keep a "
            "replica of the list with the client SDK.", count) % {"n": count, "limit": limit})
    return json_response(lookup_items(payload.items))
