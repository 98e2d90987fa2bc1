"""Request and response shapes of the API (SPEC §4); they make the OpenAPI document."""

import re
from datetime import date
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, StrictBool

from sitealert.listings.models import Category

_SURROGATE = re.compile("[\ud800-\udfff]")


def _characters(value):
    """JSON may escape half of a UTF-16 pair ("\\ud800"): that is no character and no text."""
    if not value.isascii() and _SURROGATE.search(value):
        raise ValueError("contains a lone surrogate (an escape such as \\ud800 that is not a character)")
    return value


def _storable(value):
    if "\x00" in value:
        raise ValueError("contains a NUL character (U+0000), which cannot be stored")
    return _characters(value)


# Request strings: a lone surrogate could not even be written back in a response; what is stored
# must not hold NUL either, which PostgreSQL refuses in text.
Characters = Annotated[str, AfterValidator(_characters)]
Text = Annotated[str, AfterValidator(_storable)]
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_text(value):
    """Only what the schema says (format: date): pydantic would also take 0 or "2026-01-01T00:00"."""
    if value is not None and not (isinstance(value, str) and _ISO_DATE.fullmatch(value)):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


DateText = Annotated[date, BeforeValidator(_date_text)]


def query_parameters(*parameters):
    """`openapi_extra` of an operation whose query parameters its view reads from request.GET.

    Each parameter is (name, JSON schema, description, required). The view checks them itself, so
    that a missing or malformed one gets the API's own error code; declared here, the OpenAPI
    document says exactly what the server enforces (required, enumerations, formats).
    """
    return {"parameters": [{"in": "query", "name": name, "required": required, "description": description,
                            "schema": schema} for name, schema, description, required in parameters]}


# Text that is more than blanks: what the server requires where it strips a value and refuses "".
NOT_BLANK = {"type": "string", "minLength": 1, "pattern": "\\S"}
CATEGORIES = [c.value for c in Category]


class Error(Schema):
    error: str = Field(description="A stable, machine-readable code, e.g. invalid_token, rate_limited.")
    detail: str = Field(description="What went wrong, in the language of the request's Accept-Language.")


class Entry(Schema):
    target: str = Field(description="Canonical target: a domain in A-labels, android:<package> or ios:<id>.",
                        examples=["streaming-example.example"])
    kind: Literal["domain", "app"]
    countries: list[str] = Field(description="ISO 3166-1 codes of the contributors listing it.",
                                 examples=[["IT", "KR"]])
    categories: list[str] = Field(examples=[["streaming-video"]])
    first_listed_at: str = Field(description="UTC, ISO 8601.", examples=["2026-03-01T09:30:00Z"])


class FeedDocument(Schema):
    version: int = Field(description="The change number this list is at.")
    checksum: str = Field(description='"sha256:" + hex SHA-256 of the sorted targets, each followed by "\\n".')
    entries: list[Entry]


class ListedChange(Entry):
    listed: Literal[True]


class Tombstone(Schema):
    target: str
    kind: Literal["domain", "app"]
    listed: Literal[False]


class ChangesDocument(Schema):
    since: int
    version: int
    checksum: str = Field(description="Checksum of the list at `version`: verify it after applying the changes.")
    changes: list[ListedChange | Tombstone] = Field(
        description="One per target that changed since `since`, sorted by target: its entry with "
                    '"listed": true, or a tombstone with "listed": false.')
    more: bool = Field(description="Always false: the document holds every change.")


class ResyncRequired(Error):
    version: int
    pruned_through: int = Field(description="Changes up to this version are no longer kept.")


class LookupRequest(Schema):  # an empty list is answered with no results
    items: list[Characters] = Field(description="Raw URLs, hosts or app ids (at most 10,000).",
                             examples=[["https://www.streaming-example.example/watch?v=1", "news.example", "ios:123"]])


class LookupResult(Schema):
    item: str
    target: str | None = Field(description="The item's normalized form; null when it is not a valid target.")
    listed: bool
    matched: str | None = Field(description="The most specific listed target that covers the item.")
    error: str | None = Field(None, description="Why the item is not a valid target (only then present).")


class LookupResponse(Schema):
    version: int
    results: list[LookupResult]


class CheckMatch(Schema):
    target: str = Field(description="The listed target that covers the query.")
    country: str
    contributor: str = Field(description="The authority that listed it.")
    installation: str | None = Field(
        description="For a federated authority, the name of the installation where it decides (and answers "
                    "review requests); null for an authority of this installation.")
    category: str
    listed_at: str
    procedure_url: str = Field(description="The authority's operating procedure on this installation (for a "
                                           "federated authority, a copy that links to its installation).")
    review_url: str = Field(description="Where to ask this authority for a review of the query's target: this "
                                        "installation's review form, or for a federated authority its own "
                                        "installation's, with the target filled in.")


class CheckResponse(Schema):
    query: str
    target: str
    listed: bool
    matches: list[CheckMatch]


class HashesDocument(Schema):
    epoch: str = Field(description="The list's epoch (a reset list starts a new one).")
    version: int = Field(description="The version of the list the hashes come from.")
    prefix: str = Field(description="The prefix asked for, in lower case.", examples=["3fa0"])
    hashes: list[str] = Field(description="SHA-256 (64 hexadecimal digits) of each listed target whose hash starts "
                                          "with the prefix, sorted.")


def _category_required(schema):
    # A row without a valid category is rejected (its report says why) rather than the whole request.
    schema["required"] = ["target", "category"]


def _category_enum(schema):
    schema.pop("default", None)  # "" is the missing category, which the report refuses
    schema["enum"] = CATEGORIES


class EntryIn(Schema):
    model_config = {"json_schema_extra": _category_required}

    target: Text = Field(examples=["streaming-example.example"], json_schema_extra=NOT_BLANK)
    category: Text = Field("", description="One of the categories (case and surrounding blanks are ignored). A "
                                           "row without a valid one is rejected.",
                           json_schema_extra=_category_enum)
    reference: Text = Field("", description="The national decision or case identifier.")
    note: Text = Field("", description="Private: seen only by your organization and the operator.")
    review_after: DateText | None = Field(None, description="Optional date to review the listing.")


class SubmitRequest(Schema):
    entries: list[EntryIn] = Field(description="At least one; at most SITEALERT_API_MAX_ENTRIES (100,000 by "
                                               "default), counted as the body is read.",
                                   json_schema_extra={"minItems": 1})
    # Strict: true or false, not "yes" or 1, which the schema (boolean) refuses too.
    dry_run: StrictBool = Field(False, description="Check and report, change nothing.")
    accept_valid_rows: StrictBool = Field(False, description="Apply the valid rows even if some are rejected.")


class RemoveRequest(Schema):
    targets: list[Annotated[Text, Field(json_schema_extra=NOT_BLANK)]] = Field(
        description="At least one; at most SITEALERT_API_MAX_ENTRIES (100,000 by default).",
        json_schema_extra={"minItems": 1})
    reason: Text = Field(description="Why the listings are removed (kept in the record).", json_schema_extra=NOT_BLANK)
    dry_run: StrictBool = False
    accept_valid_rows: StrictBool = False


class RowReport(Schema):
    row: int | None = Field(description="Row number: position in the request (from 1) or line in the CSV file.")
    input: str
    target: str | None
    status: Literal["accepted", "unchanged", "held", "rejected"]
    reason: str | None = None


class Counts(Schema):
    accepted: int
    unchanged: int
    held: int
    rejected: int


class Report(Schema):
    applied: bool
    dry_run: bool
    error: str | None
    version: int | None = Field(description="Version of the aggregated list after the change.")
    counts: Counts
    summary: str
    rows: list[RowReport]


class Organization(Schema):
    slug: str
    name: str
    kind: str
    country: str


class TokenInfo(Schema):
    organization: Organization
    scope: Literal["feed", "listings"]
    hint: str = Field(description="The first characters of the token.")
    expires_at: str | None
    may_read_feed: bool
    may_manage_listings: bool


ERRORS = {400: Error, 401: Error, 403: Error, 429: Error}
