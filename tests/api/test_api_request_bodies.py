"""Bodies the API cannot read are refused in its JSON shape, never with Django's HTML page."""

import gzip

import pytest

from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

CSV_PART = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="a%d.csv"\r\n'
            b"Content-Type: text/csv\r\n\r\ntarget,category\r\nfilms.example,other\r\n")


def assert_json_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == code
    assert response.json()["detail"]


def test_multipart_without_a_boundary(client, italy_token):
    response = client.post("/api/v1/imports", data=b"--x\r\n", content_type="multipart/form-data",
                           headers=bearer(italy_token))
    assert_json_error(response, 400, "invalid_multipart")
    assert "boundary" in response.json()["detail"]


def test_too_many_file_parts(client, italy_token, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    parts = b"".join(CSV_PART % i for i in range(5)) + b"--B--\r\n"
    response = client.post("/api/v1/imports", data=parts, content_type="multipart/form-data; boundary=B",
                           headers=bearer(italy_token))
    assert_json_error(response, 400, "too_many_files")


@pytest.mark.parametrize("path, content_type, data", [
    ("/api/v1/imports", "multipart/form-data; boundary=B", CSV_PART % 1 + b"--B--\r\n"),
    ("/api/v1/listings", "application/json", b'{"entries": [{"target": "films.example"}]}'),
])
def test_a_compressed_body_is_refused_not_misread(client, italy_token, path, content_type, data):
    response = client.post(path, data=gzip.compress(data), content_type=content_type,
                           headers={**bearer(italy_token), "Content-Encoding": "gzip"})
    assert_json_error(response, 415, "unsupported_content_encoding")
    assert "gzip" in response.json()["detail"]


def test_too_many_form_fields(client, italy_token, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    fields = b"".join(b'--B\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nv\r\n' % i for i in range(10))
    response = client.post("/api/v1/imports", data=fields + b"--B--\r\n",
                           content_type="multipart/form-data; boundary=B", headers=bearer(italy_token))
    assert_json_error(response, 400, "too_many_fields")
