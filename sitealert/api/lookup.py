"""POST /lookup: which of up to 10,000 items the aggregated list covers."""

from django.http import HttpResponse
from ninja import Router

from sitealert.api.auth import feed_reader
from sitealert.api.schemas import ERRORS, Error, LookupRequest, LookupResponse
from sitealert.feed.lookup import lookup_document

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
    # At most LOOKUP_MAX_ITEMS: counted while the body is read (`api.limits`), before it is parsed.
    return HttpResponse(lookup_document(payload.items), content_type="application/json")
