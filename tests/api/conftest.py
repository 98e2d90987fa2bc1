"""Helpers for the API tests: real HTTP through Django's test client, bearer tokens, full documents."""

import gzip
import hashlib
import json

import pytest


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def body(response):
    """The raw body, for plain and streamed (file) responses alike."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def decoded(response):
    data = body(response)
    return gzip.decompress(data) if response.get("Content-Encoding") == "gzip" else data


def independent_checksum(targets):
    """SPEC §4, computed here rather than by the code under test."""
    return "sha256:" + hashlib.sha256("".join(t + "\n" for t in sorted(targets)).encode("utf-8")).hexdigest()


@pytest.fixture
def get_feed(client):
    """get_feed(token) -> the JSON feed document, after checking it against its headers and checksum."""

    def _get(token):
        response = client.get("/api/v1/feed", headers=bearer(token))
        assert response.status_code == 200, body(response)
        document = json.loads(body(response))
        targets = [e["target"] for e in document["entries"]]
        assert targets == sorted(targets)
        assert document["checksum"] == independent_checksum(targets)
        assert response["X-SiteAlert-Version"] == str(document["version"])
        assert response["X-SiteAlert-Checksum"] == document["checksum"]
        return document

    return _get


@pytest.fixture
def post_json(client):
    def _post(path, data, token=None):
        headers = bearer(token) if token else {}
        return client.post(path, data=json.dumps(data), content_type="application/json", headers=headers)

    return _post
