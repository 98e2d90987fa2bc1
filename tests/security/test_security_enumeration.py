"""The public cannot enumerate the list: one exact query at a time, no wildcards or partial names,
a per-client rate limit that forged headers do not reset, and no public page or statistic that
names listed targets."""

import csv
import hashlib
import io
import json

import pytest
from django.test import Client

from tests.security.attacks import url_examples
from tests.security.conftest import bearer

HIDDEN = ["secret-sub.parent.example", "hidden-one.example", "android:com.hidden.app", "ios:987654321"]


@pytest.fixture
def hidden(italy, korea, list_targets):
    list_targets(italy, HIDDEN[:2])
    list_targets(korea, HIDDEN[2:])
    return HIDDEN


@pytest.fixture
def check_rate(settings):
    # One fixed window spanning years keeps a test from straddling two windows.
    settings.SITEALERT = {**settings.SITEALERT, "PUBLIC_CHECK_RATE": 5, "PUBLIC_CHECK_WINDOW": 10**9}
    return 5


def api_check(client, query, **extra):
    return client.get("/api/v1/check", {"q": query}, **extra)


def found(data):
    return {m["target"] for m in data.get("matches", [])}


WILDCARDS = [
    "*.parent.example", "*parent.example", "%.parent.example", "%25.parent.example", "_ecret-sub.parent.example",
    "secret-sub.parent.*", "secret-sub.parent.e%", "secret%", "secret*", "secret-sub.parent.exampl",
    "ecret-sub.parent.example", "parent.example", "%2A.parent.example", "*", "%", "_", "*.example", "?.example",
    "android:com.hidden.*", "android:com.hidden.%", "android:com.hidden", "ios:987654*", "ios:98765432",
    "ios:%", "secret-sub.parent.example hidden-one.example", "secret-sub.parent.example,hidden-one.example",
    "secret-sub.parent.example\nhidden-one.example", "[secret-sub.parent.example]", "(.*)", ".*\\.example",
]


def result_section(page):
    """The answer part of the check page (the rest echoes the query, e.g. in the language switcher)."""
    text = page.content.decode()
    return text.split('id="check-result"', 1)[1].split("</section>", 1)[0] if 'id="check-result"' in text else ""


@pytest.mark.django_db
def test_no_wildcard_or_partial_query_reveals_a_listing(hidden, settings):
    settings.SITEALERT = {**settings.SITEALERT, "PUBLIC_CHECK_RATE": 1000}
    client = Client(REMOTE_ADDR="192.0.2.10")
    for query in WILDCARDS:
        response = api_check(client, query)
        assert response.status_code in (200, 400), (query, response.status_code)
        assert found(response.json()) & set(HIDDEN) == set(), query
        page = client.get("/check/", {"q": query})
        assert page.status_code == 200 and 'id="check-result"' in page.content.decode(), query
        assert "is on the list" not in result_section(page), query


@pytest.mark.django_db
def test_an_exact_query_finds_its_listing(hidden):
    client = Client(REMOTE_ADDR="192.0.2.11")
    for target, query in [("secret-sub.parent.example", "https://www.SECRET-SUB.parent.example/x"),
                          ("android:com.hidden.app", "android:com.hidden.app"), ("ios:987654321", "ios:987654321")]:
        assert found(api_check(client, query).json()) == {target}


@pytest.mark.django_db
def test_one_query_per_request(hidden):
    client = Client(REMOTE_ADDR="192.0.2.12")
    response = client.get("/api/v1/check?q=secret-sub.parent.example&q=hidden-one.example")
    assert len(found(response.json())) == 1
    page = result_section(client.get("/check/?q=secret-sub.parent.example&q=hidden-one.example"))
    assert ("secret-sub.parent.example" in page) != ("hidden-one.example" in page)
    body = client.post("/api/v1/check", data=json.dumps({"q": HIDDEN}), content_type="application/json")
    assert body.status_code == 405


@pytest.mark.django_db
def test_public_checks_are_rate_limited_per_client_address(hidden, check_rate):
    attacker = Client(REMOTE_ADDR="203.0.113.5")
    for i in range(check_rate):
        assert api_check(attacker, f"probe{i}.example").status_code == 200
    limited = api_check(attacker, "hidden-one.example")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert limited.json()["error"] == "rate_limited" and "matches" not in limited.json()
    web = attacker.get("/check/", {"q": "hidden-one.example"})  # the page and the API share one budget
    assert web.status_code == 429 and int(web["Retry-After"]) > 0 and "is on the list" not in web.content.decode()
    # Invalid queries count too: probing with garbage is not free.
    other = Client(REMOTE_ADDR="203.0.113.6")
    for _ in range(check_rate):
        other.get("/check/", {"q": "*"})
    assert api_check(other, "hidden-one.example").status_code == 429
    # Someone else is not affected.
    assert api_check(Client(REMOTE_ADDR="203.0.113.7"), "hidden-one.example").status_code == 200


@pytest.mark.django_db
def test_forged_forwarding_headers_do_not_reset_the_limit(hidden, check_rate, settings):
    attacker = Client(REMOTE_ADDR="203.0.113.8")
    for i in range(check_rate):
        api_check(attacker, f"probe{i}.example")
    for n in range(5):
        forged = {"HTTP_X_FORWARDED_FOR": f"198.51.100.{n}", "HTTP_X_REAL_IP": f"198.51.100.{n}",
                  "HTTP_CLIENT_IP": f"198.51.100.{n}", "HTTP_FORWARDED": f"for=198.51.100.{n}"}
        assert api_check(attacker, "hidden-one.example", **forged).status_code == 429
    # Behind one trusted proxy, the address the proxy appended counts, not what the client prepended.
    settings.SITEALERT = {**settings.SITEALERT, "TRUSTED_PROXY_COUNT": 1}
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    for i in range(check_rate):
        api_check(proxy, f"probe{i}.example", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.9")
    assert api_check(proxy, "x.example", HTTP_X_FORWARDED_FOR="198.51.100.77, 203.0.113.9").status_code == 429


@pytest.mark.django_db
def test_rotating_ipv6_addresses_within_one_network_does_not_reset_the_limit(hidden, check_rate):
    """An IPv6 client holds a whole /64 (2^64 addresses): counting per address would let it enumerate
    the list without limit. The limit must apply to the client's /64."""
    for i in range(check_rate):
        assert api_check(Client(REMOTE_ADDR=f"2001:db8:1:2::{i + 1:x}"), f"probe{i}.example").status_code == 200
    rotated = api_check(Client(REMOTE_ADDR="2001:db8:1:2:dead:beef:0:1"), "hidden-one.example")
    assert rotated.status_code == 429, "a new address in the same /64 got a fresh budget"
    assert api_check(Client(REMOTE_ADDR="2001:db8:1:3::1"), "hidden-one.example").status_code == 200


@pytest.mark.django_db
def test_no_public_page_names_listed_targets(hidden, world, italy, korea, adco):
    client = Client(REMOTE_ADDR="192.0.2.20")
    values = {"slug": italy.slug, "token": world["status_path"].split("/")[-2], "target": "films.example"}
    paths = [r.path for r in url_examples(values) if r.name not in ("logout", "admin:logout", "set_language")]
    paths += [f"/procedures/{korea.slug}/", f"/procedures/{korea.slug}/history/", f"/members/{adco.slug}/",
              f"/members/{adco.slug}/badge.svg", "/check/", "/api/v1/check?q=films.example",
              "/api/v1/openapi.json", "/statistics/", "/procedures/?lang=fr"]
    paths += [f"/statistics/{name}.csv" for name in
              ("listings-by-country", "listings-by-category", "monthly-changes", "review-outcomes")]
    leaked = []
    for path in paths:
        response = client.get(path)
        text = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
        leaked += [f"{path}: {t}" for t in [*HIDDEN, "italy-only.example", "korea-only.example"] if t in text]
    assert leaked == []


@pytest.mark.django_db
def test_statistics_are_aggregates(hidden):
    client = Client()
    for name in ("listings-by-country", "listings-by-category", "monthly-changes", "review-outcomes"):
        response = client.get(f"/statistics/{name}.csv")
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert len(rows) >= 2, name
        for row in rows[1:]:
            labels = [cell for cell in row if not cell.replace(".", "", 1).replace("-", "", 1).isdigit() and cell]
            # Each row is labelled by a country, category, month or contributor; the rest are numbers
            # (and, for a contributor, the installation where it decides: docs/federation.md).
            assert len(labels) <= (3 if name == "review-outcomes" else 2), (name, row)
            assert not any("." in label and " " not in label for label in labels), (name, row)


@pytest.mark.django_db
def test_the_aggregated_list_needs_an_authorized_users_token(hidden, bob, italy_token):
    assert Client().get("/api/v1/feed").status_code == 401
    assert Client().post("/api/v1/lookup", data=json.dumps({"items": HIDDEN}),
                         content_type="application/json").status_code == 401
    contributor = Client()
    contributor.force_login(bob)
    for path in ["/download/", "/download/sitealert.txt", "/download/sitealert.json"]:
        assert contributor.get(path).status_code == 403, path
    assert Client().get("/api/v1/feed", headers=bearer(italy_token)).status_code == 403


@pytest.mark.django_db
def test_the_private_lookup_gives_hashes_only_and_is_rate_limited_per_address(hidden, settings):
    """Every prefix of the private lookup answers no target in clear, and its limit, like the
    check's, holds against forged forwarding headers and rotating IPv6 addresses of one /64."""
    settings.SITEALERT = {**settings.SITEALERT, "PRIVATE_LOOKUP_RATE": 5, "PRIVATE_LOOKUP_WINDOW": 10**9}
    client = Client(REMOTE_ADDR="192.0.2.30")
    prefixes = sorted({hashlib.sha256(t.encode()).hexdigest()[:4] for t in hidden})
    for n, prefix in enumerate(prefixes):
        response = client.get(f"/api/v1/hashes/{prefix}", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert response.status_code == 200
        assert not [t for t in hidden if t.encode() in response.content or t.split(".")[0].encode() in response.content]
    for n in range(5 - len(prefixes)):
        client.get("/api/v1/hashes/0000", HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 10}")
    assert client.get("/api/v1/hashes/ffff", HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429
    ipv6 = Client()
    for n in range(5):
        ipv6.get("/api/v1/hashes/0000", REMOTE_ADDR=f"2001:db8:1:2::{n + 1}")
    assert ipv6.get("/api/v1/hashes/0000", REMOTE_ADDR="2001:db8:1:2::ff").status_code == 429
