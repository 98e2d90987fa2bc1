"""Screening OpenRTB 2.x bid requests against the list, in memory, without raising.

    verdict = screen_bid_request(replica, bid_request)
    if verdict.blocked:
        return no_bid(reason=f"{verdict.field} is listed ({verdict.target})")

The fields looked at, in this order: site.domain, site.page, site.ref, app.bundle, app.storeurl,
app.domain. Domains and URLs go through the same normalizer as the server; ``app.bundle`` is read
as the OpenRTB 2.x specification describes it: a numeric id (or ``id`` + digits) is an App Store
id (``ios:<digits>``), anything else an Android package name (``android:<bundle>``).
"""

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sitealert.matcher import Match

from .errors import ReplicaDamaged


class _Checks(Protocol):
    def check(self, item: str) -> Match | None: ...


FIELDS = ("site.domain", "site.page", "site.ref", "app.bundle", "app.storeurl", "app.domain")
_IOS_BUNDLE = re.compile(r"(?:id)?([0-9]{1,20})", re.IGNORECASE)
_MAX_FIELD = 8192


@dataclass(frozen=True)
class Verdict:
    """The outcome of screening one bid request."""

    blocked: bool
    field: str | None = None  # the field that matched, such as "site.page"
    value: str | None = None  # what that field held
    match: Match | None = None  # the listed target, with its countries and categories
    problems: tuple[str, ...] = ()  # what was malformed (the request was screened as far as possible)

    @property
    def target(self) -> str | None:
        return self.match.target if self.match else None

    @property
    def malformed(self) -> bool:
        return bool(self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "blocked": self.blocked,
            "field": self.field,
            "value": self.value,
            "target": self.target,
            "countries": list(self.match.countries) if self.match else [],
            "categories": list(self.match.categories) if self.match else [],
            "problems": list(self.problems),
        }


def _describe(value: object) -> str:
    return "null" if value is None else type(value).__name__


def bundle_targets(bundle: str) -> list[str]:
    """The app targets an OpenRTB app.bundle can name."""
    bundle = bundle.strip()
    ios = _IOS_BUNDLE.fullmatch(bundle)
    if ios:
        return [f"ios:{ios[1]}"]
    return [f"android:{bundle}"]


def _candidates(request: Mapping[str, Any], fields: tuple[str, ...],
                problems: list[str]) -> Iterator[tuple[str, str, str]]:
    """(field, value, item to check) in field order, noting malformed parts in problems."""
    objects = {}
    for name in ("site", "app"):
        value = request.get(name)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            problems.append(f"{name} is {_describe(value)}, not an object")
            continue
        objects[name] = value
    if not objects:
        problems.append("neither site nor app is present")
    elif len(objects) == 2:
        problems.append("both site and app are present (OpenRTB allows one); screened both")
    for field in fields:
        name, _, key = field.partition(".")
        obj = objects.get(name)
        if obj is None or key not in obj:
            continue
        value = obj[key]
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            problems.append(f"{field} is {_describe(value)}, not a string")
            continue
        if len(value) > _MAX_FIELD:
            problems.append(f"{field} is longer than {_MAX_FIELD} characters; not screened")
            continue
        if field == "app.bundle":
            for item in bundle_targets(value):
                yield field, value, item
        else:
            yield field, value, value


def screen_bid_request(replica: _Checks, request: Mapping[str, Any] | str | bytes | bytearray, *,
                       fields: tuple[str, ...] = FIELDS) -> Verdict:
    """Block or pass one OpenRTB 2.x bid request.

    replica: a Replica (or Matcher) — anything with check(item). request: the bid request as a
    dict (or its JSON text). fields: which fields to look at, in order; the first listed one
    decides. Malformed requests never raise: the verdict lists the problems and screens whatever
    fields were usable. (A damaged replica does raise ReplicaDamaged: that is not the request's fault.)
    """
    problems: list[str] = []
    if isinstance(request, (str, bytes, bytearray)):
        try:
            request = json.loads(request)
        except (ValueError, UnicodeDecodeError):
            return Verdict(blocked=False, problems=("the request is not valid JSON",))
    if not isinstance(request, Mapping):
        return Verdict(blocked=False, problems=(f"the request is {_describe(request)}, not an object",))
    check = replica.check
    for field, value, item in _candidates(request, fields, problems):
        try:
            match = check(item)
        except ReplicaDamaged:
            raise
        except Exception as exc:  # whatever a value holds, a bidder must get a verdict
            problems.append(f"{field} could not be checked ({type(exc).__name__})")
            continue
        if match is not None:
            return Verdict(blocked=True, field=field, value=value, match=match, problems=tuple(problems))
    return Verdict(blocked=False, problems=tuple(problems))
