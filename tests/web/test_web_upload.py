import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sitealert.listings.models import Listing

GOOD_AND_BAD = (
    "target,category,reference,note\n"
    "films.example,streaming-video,2024/1,first\n"
    "10.0.0.1,cyberlocker,2024/2,\n"
    "music.example,streaming-music,2024/3,\n"
)


def upload(client, content, **options):
    data = content.encode("utf-8") if isinstance(content, str) else content
    payload = {"file": SimpleUploadedFile("list.csv", data, content_type="text/csv")}
    payload.update({k: "on" for k, v in options.items() if v})
    return client.post("/listings/upload/", payload)


def report_rows(body):
    table = body[body.index('id="upload-report"'):body.index("</table>")]
    rows = re.findall(r"<tr class=\"row-(\w+)\".*?</tr>", table, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S) for tr in re.findall(r"<tr class=.*?</tr>", table, re.S)]
    return rows, [[re.sub(r"<[^>]+>", "", c).strip() for c in row] for row in cells]


@pytest.mark.django_db
def test_upload_page_shows_the_form(login, alice):
    body = login(alice).get("/listings/upload/").content.decode()
    assert 'id="upload-form"' in body and 'name="dry_run"' in body and 'name="accept_valid_rows"' in body


@pytest.mark.django_db
def test_rejected_row_means_nothing_is_applied_and_the_report_says_why(login, alice):
    response = upload(login(alice), GOOD_AND_BAD)
    body = response.content.decode()
    statuses, cells = report_rows(body)
    assert statuses == ["accepted", "rejected", "accepted"]
    assert [c[0] for c in cells] == ["2", "3", "4"]
    assert cells[0][1:3] == ["films.example", "films.example"]
    assert "is an IP address" in cells[1][4]
    assert "Nothing was changed because 1 row was rejected" in body
    assert [c[3] for c in cells] == ["would be accepted", "rejected", "would be accepted"]  # nothing was applied
    assert not Listing.objects.exists()


@pytest.mark.django_db
def test_accept_valid_rows_applies_the_rest(login, alice, italy):
    body = upload(login(alice), GOOD_AND_BAD, accept_valid_rows=True).content.decode()
    assert "2 accepted, 0 unchanged, 0 held, 1 rejected." in body
    assert "aggregated list is now at version" in body
    assert set(Listing.objects.filter(contributor=italy).values_list("target", flat=True)) == {
        "films.example", "music.example"}


@pytest.mark.django_db
def test_dry_run_changes_nothing(login, alice):
    body = upload(login(alice), GOOD_AND_BAD.replace("10.0.0.1", "ok.example"), dry_run=True).content.decode()
    assert "Dry run, nothing was changed: 3 would be accepted" in body
    assert not Listing.objects.exists()


@pytest.mark.django_db
def test_file_level_errors_are_shown(login, alice):
    client = login(alice)
    response = upload(client, GOOD_AND_BAD.encode("utf-16"))
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="upload-error"' in body and "UTF-16" in body and 'id="upload-report"' not in body
    body = upload(client, "site,kind\nfilms.example,x\n").content.decode()
    assert "Row 1 must be the header row" in body
    assert "missing column(s): target, category" in body
    assert not Listing.objects.exists()


@pytest.mark.django_db
def test_missing_file_is_a_form_error(login, alice):
    response = login(alice).post("/listings/upload/", {})
    assert response.status_code == 400
    assert 'id="id_file_error"' in response.content.decode()


@pytest.mark.django_db
def test_upload_is_for_contributors_only(login, carol):
    assert upload(login(carol), GOOD_AND_BAD).status_code == 403
    assert not Listing.objects.exists()
