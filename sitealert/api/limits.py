"""Per-route limits on JSON request bodies, enforced while the body is read, before it is parsed.

Parsing and validating a JSON body costs memory in proportion to its number of entries (a 30 MB
body of two million tiny entries took 1.6 GB before its row limit was looked at). So a route that
takes a list is refused by its body's size (`SITEALERT_API_MAX_JSON_BYTES`) and by the length of
its list, counted by a streaming parser (ijson) that stops at the first element over the limit,
before Django Ninja builds a single object. What passes is at most that many entries in at most
that many bytes, which bounds a worker's memory (docs/api.md gives the figure).
"""

import ijson
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sitealert.api.errors import ApiError, body_too_large
from sitealert.core.conf import setting

# Route (as Django Ninja's URL pattern spells it) -> the list its body carries and the settings
# that limit its length (the smallest applies: rows sent as JSON are also rows of an upload).
ROW_LIMITS = ("API_MAX_ENTRIES", "IMPORT_MAX_ROWS")
COUNTED_LISTS = {
    "listings": ("entries", ROW_LIMITS),
    "listings/remove": ("targets", ROW_LIMITS),
    "lookup": ("items", ("LOOKUP_MAX_ITEMS",)),
}
# A body nested deeper than this is no request of ours: counting stops and the parser refuses it.
MAX_DEPTH = 32


def count_list(body, key, limit):
    """How many elements the top-level list `key` of a JSON document has, counting no further than
    limit + 1; None if the document is not JSON or nests past MAX_DEPTH (Django Ninja then says
    what is wrong with it).

    ijson's basic events carry no path: a path per event would cost memory in proportion to the
    depth, squared over a deeply nested body.
    """
    depth, count, current_key, in_list = 0, 0, None, False
    try:
        for event, value in ijson.basic_parse(body):
            if event == "map_key":
                if depth == 1:
                    current_key = value
                continue
            if event in ("end_map", "end_array"):
                depth -= 1
                in_list = in_list and depth > 1
                continue
            if in_list and depth == 2:
                count += 1
                if count > limit:
                    break
            if event in ("start_map", "start_array"):
                if depth == 1 and event == "start_array" and current_key == key:
                    in_list = True
                depth += 1
                if depth > MAX_DEPTH:
                    return None
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError):
        return None
    return count


def refuse_oversized_body(request, route):
    """An ApiError (413) for a body over its route's limits, or None."""
    if request.method != "POST" or route not in COUNTED_LISTS:
        return None
    max_bytes = setting("API_MAX_JSON_BYTES")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        return ApiError(413, "request_too_large", _(
            "The request body has %(n)d bytes; the limit for this endpoint is %(limit)d. Split it, or send "
            "a CSV file to /api/v1/imports.") % {"n": length, "limit": max_bytes})
    key, limit_settings = COUNTED_LISTS[route]
    limit = min(setting(name) for name in limit_settings)
    try:
        body = request.body
    except RequestDataTooBig:
        return body_too_large()
    if body.count(b",") < limit:
        # Every element of a JSON list after its first follows a comma: with fewer commas than the
        # limit no list can be over it, and the streaming count (1,000 items: a fifth of a lookup's
        # time) is skipped.
        return None
    count = count_list(body, key, limit)
    if count is None or count <= limit:
        return None
    if key == "items":
        return ApiError(413, "too_many_items", ngettext(
            "The request has more than %(limit)d item; at most %(limit)d are allowed per request. Split it, "
            "or keep a replica of the list with the client SDK.",
            "The request has more than %(limit)d items; at most %(limit)d are allowed per request. Split it, "
            "or keep a replica of the list with the client SDK.", limit) % {"limit": limit})
    return ApiError(413, "too_many_rows", ngettext(
        "The request has more than %(limit)d row; the limit is %(limit)d. Split it, or send a CSV file to "
        "/api/v1/imports.",
        "The request has more than %(limit)d rows; the limit is %(limit)d. Split it, or send a CSV file to "
        "/api/v1/imports.", limit) % {"limit": limit})
