import json

import pytest

from sitealert.feed.render import checksum_of
from sitealert.listings.models import Listing


@pytest.fixture
def listed(italy, korea, list_targets):
    list_targets(italy, ["films.example", "music.example"])
    list_targets(korea, ["films.example", "drama.example"])
    Listing.objects.update(note="PRIVATE-NOTE-do-not-show")


@pytest.mark.django_db
def test_download_page_shows_version_and_checksum(login, carol, listed):
    body = login(carol).get("/download/").content.decode()
    expected = checksum_of(sorted(["drama.example", "films.example", "music.example"]))
    assert f'<code id="feed-checksum">{expected}</code>' in body
    assert 'id="feed-version">' in body
    assert 'href="/tokens/"' in body
    assert f'href="/members/{carol.membership.organization.slug}/"' in body  # where to find the member badge


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["txt", "csv", "json"])
def test_download_files(login, carol, listed, fmt):
    response = login(carol).get(f"/download/sitealert.{fmt}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-SiteAlert-Checksum"] == checksum_of(["drama.example", "films.example", "music.example"])
    body = b"".join(response.streaming_content).decode()
    assert "films.example" in body and "PRIVATE-NOTE" not in body
    if fmt == "txt":
        assert body == "drama.example\nfilms.example\nmusic.example\n"
    if fmt == "json":
        assert json.loads(body)["version"] == int(response["X-SiteAlert-Version"])


@pytest.mark.django_db
def test_contributors_and_anonymous_cannot_download(client, login, alice, bob, listed):
    assert client.get("/download/sitealert.txt").status_code == 302
    assert login(alice).get("/download/").status_code == 403
    assert login(bob).get("/download/sitealert.txt").status_code == 403


@pytest.mark.django_db
def test_suspended_user_cannot_download(login, adco, carol, listed):
    adco.status = adco.Status.SUSPENDED
    adco.save()
    response = login(carol).get("/download/sitealert.txt")
    assert response.status_code == 403
    assert "suspended" in response.content.decode()


@pytest.mark.django_db
def test_a_user_never_sees_private_notes(login, carol, listed):
    client = login(carol)
    for url in ["/", "/dashboard/", "/download/", "/download/sitealert.txt", "/download/sitealert.csv",
                "/download/sitealert.json", "/tokens/", "/listings/", "/listings/upload/", "/check/?q=films.example"]:
        response = client.get(url, follow=True)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"PRIVATE-NOTE" not in body, url
