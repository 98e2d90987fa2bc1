"""The HTTP API at /api/v1/: OpenAPI document at /api/v1/openapi.json, interactive docs at /api/v1/docs."""

from django.urls import path, re_path
from ninja import NinjaAPI, Swagger

from sitealert.api import check, feed, listings, lookup, tokens
from sitealert.api.errors import install, not_found_view

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
for module in (feed, lookup, check, listings, tokens):
    api.add_router("/", module.router)

urlpatterns = [
    path("", api.urls),
    re_path(r"^.*$", not_found_view),
]
