"""Shared tools of the security tests: the URLconf as an attacker sees it, database snapshots, payloads.

`url_examples()` walks `django.urls.get_resolver()` and gives one concrete path per URL pattern, so a
test can request every page the project serves, including pages added after these tests were written.
"""

import re
from dataclasses import dataclass

from django.apps import apps
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RoutePattern

# Pages anyone may open without signing in, by "namespace:name" (or the bare name). A new page is
# protected until it is added here on purpose.
PUBLIC_ROUTES = {
    "home", "login", "logout", "set_language",
    "check:check", "procedures:procedures", "procedures:procedure", "procedures:procedure_history",
    "procedures:procedure_revision", "reviews:review_new", "reviews:review_sent", "reviews:review_confirm",
    "reviews:review_status", "statistics:statistics", "statistics:statistics_csv", "member", "member_badge",
    "admin_login", "admin:logout",
    "api:openapi-json", "api:openapi-view", "api:check",
    # The private lookup answers hash prefixes to anyone, and the signed mirror's metadata is public
    # (its targets need a feed token but for the hashes/ shards: the view checks each path).
    "api:hashes", "api:mirror_metadata",
    # Liveness and readiness probes answer anyone (no data beyond "ok" or what is not ready).
    "healthz", "readyz",
    "otp_webauthn:js-i18n-catalog",  # the passkey script's interface strings
}

# Patterns whose anonymous answer is a 404 by design: unknown API paths and the API root.
NOT_FOUND_ROUTES = {"api:api-root", "api:<catch-all>"}

# What a placeholder in a route stands for when the test does not say otherwise.
SAMPLE_VALUES = {
    "pk": "1", "id": "1", "object_id": "1", "content_type_id": "1", "slug": "no-such-slug",
    "token": "x" * 43, "target": "films.example", "language": "en", "fmt": "txt", "app_label": "listings",
    "name": "listings-by-country", "url": "no-such-page/",
}

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_ATTRIBUTE = '"onmouseover="alert(2)'
XSS = XSS_SCRIPT + XSS_ATTRIBUTE


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", the bare name, or "<module.view>" for unnamed patterns
    pattern: str
    path: str
    callback: object


def _example(pattern, values):
    """A concrete piece of URL for one RoutePattern or RegexPattern."""
    text = str(pattern.pattern)
    if isinstance(pattern.pattern, RoutePattern):  # <conv:name>
        return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), SAMPLE_VALUES.get(m.group(1), "x")), text)
    text = text.removeprefix("^").removesuffix("$")
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m.group(1), SAMPLE_VALUES.get(m.group(1), "x")), text)
    text = text.replace(r"\.", ".").replace(".*", "anything").replace(r"[\s\S]*", "anything")
    if re.search(r"[()\[\]*+?|\\^$]", text):
        raise AssertionError(f"no example for the regular expression {pattern.pattern!r}: "
                             "extend SAMPLE_VALUES in tests/security/attacks.py")
    return text


def url_examples(values=None):
    """Every leaf pattern of the URLconf with an example path that resolves back to it."""
    values = values or {}
    routes = []

    def walk(patterns, prefix, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + _example(p, values), p.namespace or namespace)
                continue
            assert isinstance(p, URLPattern)
            path = "/" + prefix + _example(p, values)
            if p.name:
                name = f"{namespace}:{p.name}" if namespace else p.name
            elif namespace == "api" or prefix.startswith("api/"):
                name = "api:<catch-all>"
            else:
                name = f"<{p.callback.__module__}.{getattr(p.callback, '__name__', type(p.callback).__name__)}>"
                if namespace:
                    name = f"{namespace}:{name}"
            match = resolve(path)
            if match.func != p.callback and match.url_name != p.name:
                continue  # shadowed by an earlier pattern for the same path, which the walk visits itself
            routes.append(Route(name=name, pattern=prefix + str(p.pattern), path=path, callback=p.callback))

    walk(get_resolver().url_patterns, "", None)
    return routes


def login_redirect(response):
    """Whether a response sends the visitor to a sign-in page."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return False
    location = response["Location"]
    return location.startswith(("/login/", "/admin/login/"))


# --- the database as an attacker with a backup would see it -------------------------------------

def _cells(value):
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def database_text():
    """Every cell of every table (not only Django models: the cache table too), as one string per row."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows.extend(f"{table}: " + " | ".join(_cells(v) for v in row) for row in cursor.fetchall())
    return rows


def row_counts():
    """{model label: row count} for every model of the project and Django's contrib apps.

    Rate-limit counts are left out: every request is counted, refused or not, and they are the
    server's bookkeeping of requests rather than anything the request changed.
    """
    return {m._meta.label: m._default_manager.count() for m in apps.get_models()
            if m._meta.label != "core.RateLimitCount"}


def listings_snapshot():
    from sitealert.feed.models import FeedState
    from sitealert.listings.models import Listing

    state = FeedState.objects.filter(pk=1).values_list("version", flat=True).first()
    return state, sorted(Listing.objects.values_list("contributor_id", "target", "status", "category", "reference",
                                                    "note", "status_reason"))
