"""GET /federation/authorities and /federation/listings: what another installation subscribes to
(docs/federation.md). Feed tokens read them, as they read /feed."""

from ninja import Field, Router, Schema

from sitealert.api.auth import feed_reader
from sitealert.api.feed import _document_response, if_none_match, not_modified, read_since, since_refusals
from sitealert.api.schemas import ERRORS, Error, ResyncRequired, query_parameters
from sitealert.core import audit
from sitealert.core.middleware import accepts_gzip
from sitealert.federation import documents
from sitealert.feed import builder

router = Router(tags=["federation"], auth=feed_reader)


class InstallationInfo(Schema):
    id: str = Field(description="The installation's random identifier (its authorities' keys start with it).")
    name: str = Field(description="Its name (SITE_NAME).")
    url: str = Field(description="Its public address (SITE_URL).")


class ProcedureTexts(Schema):
    description: str
    contact: str
    criteria: str
    procedure: str
    appeal: str = Field(description="Review and appeal; empty where the authority has not written it.")


class Authority(Schema):
    key: str = Field(description='"<installation id>:<slug>", unique across installations; a re-published '
                                 "authority keeps the key its deciding installation gave it.")
    name: str
    country: str = Field(description="ISO 3166-1 alpha-2 code.")
    website: str
    installation: InstallationInfo = Field(description="The installation where this authority decides.")
    url: str = Field(description="Its procedure page at that installation.")
    review_url: str = Field(description="Its review form there; `{target}` stands for the URL-quoted target.")
    procedures: dict[str, ProcedureTexts] = Field(description="Its operating procedure, by language code.")


class AuthoritiesDocument(Schema):
    installation: InstallationInfo
    version: int = Field(description="Version of the list this document describes.")
    authorities: list[Authority] = Field(description="Every authority with a listing in the listings document, "
                                                     "sorted by key.")


class FederatedListing(Schema):
    authority: str = Field(description="The key of the authority that lists the target.")
    category: str
    listed_at: str = Field(description="When it listed the target (ISO 8601, UTC).")
    version: int = Field(description="The change number, at this installation, that last changed the target.")


class FederatedTarget(Schema):
    target: str
    kind: str = Field(description="domain or app.")
    listings: list[FederatedListing] = Field(description="All its published listings; empty when none is "
                                                         "published any more.")


class ListingsDocument(Schema):
    installation: str = Field(description="This installation's identifier.")
    since: int
    version: int
    epoch: str = Field(description="The list's epoch: when it changes, start again from since=0.")
    checksum: str = Field(description='"sha256:<hex>" of the sorted targets published at `version`, each followed '
                                      "by a newline: after applying this document, your copy must match it.")
    count: int = Field(description="How many targets are published at `version`.")
    targets: list[FederatedTarget] = Field(description="Sorted by target (code points).")
    more: bool


def _respond(request, kind, since=0):
    gzipped = accepts_gzip(request)
    tags = if_none_match(request)
    if tags:
        state = builder.feed_state()
        documents.check_since(since, state)
        withheld = documents.withheld_key(documents.withheld_authorities())
        known = {documents.document_etag(state, kind, since, withheld, g) for g in (False, True)}
        if "*" in tags or tags & known:
            return not_modified(documents.document_etag(state, kind, since, withheld, gzipped), state.version, "")
    document = documents.open_document(kind, since, gzipped)
    if request.META.get("REQUEST_METHOD") != "HEAD":
        audit.count(request.auth, "feed.download", f"federation-{kind}", {"version": document.version})
    name = f"sitealert-federation-{kind}" + (f"-{since}" if kind == "listings" else "")
    return _document_response(document, f"{name}-v{document.version}.json", gzipped)


@router.get(
    "/federation/authorities",
    response={200: AuthoritiesDocument, 304: None, **ERRORS},
    summary="Authorities, for a subscribing installation",
    description=(
        "This installation and every authority whose listings `/federation/listings` publishes: its key, "
        "name, country, website, the installation where it decides, its procedure page and review form "
        "there, and its operating procedure in each language. Another SiteAlert installation subscribes to "
        "this one with it (docs/federation.md). Rendered once per version of the list; `ETag` and "
        "`If-None-Match` (`304 Not Modified`), gzip when `Accept-Encoding` allows it."
    ),
)
def federation_authorities(request):
    return _respond(request, "authorities")


@router.get(
    "/federation/listings",
    response={200: ListingsDocument, 304: None, 400: Error, 410: ResyncRequired, **ERRORS},
    summary="Listings by authority, for a subscribing installation",
    description=(
        "Each target changed after version `since` with all its published listings, each naming its "
        "authority (`/federation/authorities`); `since=0` gives every published target. Published: the "
        "active listings of this installation's authorities, and of the authorities it carries from a "
        "source that it re-publishes. An empty `listings` means no listing of the target is published any "
        "more. `checksum` and `count` describe the whole published set at `version`. `410` with "
        '`"error": "resync_required"` when `since` is older than the retained history (ask again with '
        "since=0), `400` when `since` is ahead of the server or not a non-negative integer. `ETag` and "
        "`If-None-Match` (`304 Not Modified`), gzip when `Accept-Encoding` allows it."
    ),
    openapi_extra=query_parameters(
        ("since", {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
         "The version the subscriber holds (0 for none).", True)),
)
def federation_listings(request):
    since = read_since(request)
    with since_refusals(since):
        return _respond(request, "listings", since)
