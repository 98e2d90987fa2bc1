"""The OpenAPI document, the interactive docs and docs/api.md describe every route."""

import re
from pathlib import Path

import pytest

from sitealert.api.urls import api

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# Public routes: no token. The mirror's targets need one for the list in clear, not for hashes/.
PUBLIC = {"/api/v1/check", "/api/v1/hashes/{prefix}", "/api/v1/mirror/metadata/{name}"}
TOKEN_OR_PUBLIC = {"/api/v1/mirror/targets/{path}"}


def routes():
    """(METHOD, /api/v1/path) of every operation registered on the Ninja API."""
    found = set()
    for prefix, router in api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    full = "/api/v1" + (prefix.rstrip("/") + "/" + path.lstrip("/")).rstrip("/")
                    found.add((method, re.sub(r"\{\w+:(\w+)\}", r"{\1}", full)))  # {path:path}: a converter
    return sorted(found)


def test_the_contract_routes_exist():
    assert {("GET", "/api/v1/feed"), ("GET", "/api/v1/feed/changes"), ("POST", "/api/v1/lookup"),
            ("GET", "/api/v1/check"), ("POST", "/api/v1/listings"), ("POST", "/api/v1/listings/remove"),
            ("POST", "/api/v1/imports")} <= set(routes())


def test_openapi_document_lists_every_route_with_summary_and_schemas(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["info"]["title"] == "SiteAlert API" and document["info"]["version"] == "1"
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert listed == set(routes())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["summary"] and operation["description"], (method, path)
            assert "200" in operation["responses"], (method, path)
            assert "content" in operation["responses"]["200"], (method, path)
            if path in TOKEN_OR_PUBLIC:
                assert operation["security"] == [{"TokenAuth": []}, {}], (method, path)
            elif path not in PUBLIC:
                assert operation["security"] == [{"TokenAuth": []}], (method, path)
            if path not in PUBLIC:
                assert "401" in operation["responses"] and "403" in operation["responses"]
    assert document["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    assert all("security" not in document["paths"][path]["get"] for path in PUBLIC)


def test_interactive_docs_use_local_assets_under_the_csp(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/ninja/") for src in scripts)
    assert "cdn" not in html.lower() and "https://" not in html
    # No inline script runs: the settings block is JSON data, the code comes from 'self'.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert all('type="application/json"' in attrs for attrs in inline)
    assert '"validatorUrl": null' in html
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    for asset in scripts + re.findall(r'<link[^>]*href="(/static/[^"]+)"', html):
        static = client.get(asset)
        assert static.status_code == 200, asset


def test_every_route_is_documented_in_docs_api_md():
    text = DOCS.read_text()
    missing = [f"{method} {path}" for method, path in routes() if f"{method} {path}" not in text]
    assert not missing, f"docs/api.md does not document: {missing}"


def test_every_error_code_is_documented():
    package = Path(__file__).resolve().parents[2] / "sitealert" / "api"
    source = "".join(p.read_text() for p in package.glob("*.py"))
    codes = set(re.findall(r'(?:ApiError\(\s*\d{3},\s*|code=)"([a-z_]+)"', source))
    assert {"authentication_required", "invalid_token", "rate_limited", "resync_required", "invalid_file"} <= codes
    text = DOCS.read_text()
    assert not [c for c in codes if f"`{c}`" not in text], "an error code is missing from docs/api.md"
