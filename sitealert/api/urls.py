"""The HTTP API at /api/v1/: OpenAPI document at /api/v1/openapi.json, interactive docs at /api/v1/docs."""

import functools

from django.urls import path, re_path
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger

from sitealert.api import check, federation, feed, hashes, listings, lookup, mirror, tokens
from sitealert.api.errors import ApiError, install, not_found_view, refuse_content_encoding
from sitealert.api.limits import refuse_oversized_body

DESCRIPTION = """
The aggregated list of sites and apps that national authorities have found to infringe copyright
on a commercial scale, for the advertising industry; the public check; contributors' listings.

Authenticate with `Authorization: Bearer <token>` (tokens are issued per organization in the web
interface or with `sitealert token create`). Errors are JSON: `{"error": "<code>", "detail": "<message>"}`.
"""

api = NinjaAPI(
    title="SiteAlert API",
    version="1",
    description=DESCRIPTION.strip(),
    urls_namespace="api",
    # Served from ninja's own static files; the validator badge would call an outside service.
    docs=Swagger(settings={"validatorUrl": None}),
)
install(api)
for module in (feed, federation, lookup, check, hashes, listings, tokens, mirror):
    api.add_router("/", module.router)


def http_semantics(view, route):
    """HEAD wherever GET works (the server sends the headers only: a client can read a feed's
    version and checksum without downloading it), 405 in the API's JSON shape, and 415 for a
    compressed body (Django would read gzip bytes as a malformed form or JSON), and 413 for a body
    over its route's limits before Django Ninja parses it."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        refusal = refuse_content_encoding(request) or refuse_oversized_body(request, route)
        if refusal is not None:
            return refusal.response()
        head = request.method == "HEAD"
        if head:
            request.method = "GET"
        try:
            response = view(request, *args, **kwargs)
        finally:
            if head:
                request.method = "HEAD"  # what the server, the middleware and the test client look at
        if response.status_code == 405:
            methods = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
            if "GET" in methods:
                methods.append("HEAD")
            allowed = ", ".join(methods)
            response = ApiError(405, "method_not_allowed", _(
                "This endpoint does not answer %(method)s; use %(allowed)s.") % {
                "method": request.META.get("REQUEST_METHOD", "")[:10], "allowed": allowed},
                headers={"Allow": allowed}).response()
        return response

    return wrapped


# Not unpacked into module names: include() would read a module-level app_name as this urlconf's.
ninja_urls = api.urls
for pattern in ninja_urls[0]:
    pattern.callback = http_semantics(pattern.callback, str(pattern.pattern))

urlpatterns = [
    path("", ninja_urls),
    re_path(r"^[\s\S]*$", not_found_view),  # any path, a newline in it too
]
