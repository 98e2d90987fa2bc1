import pytest
from django.test import Client

from sitealert.core.models import AuditEvent
from sitealert.feed.models import FeedEntry
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.views import PAGE_SIZE


def add(client, target, category="streaming-video", **extra):
    return client.post("/listings/add/", {"target": target, "category": category, **extra})


@pytest.mark.django_db
def test_contributor_sees_only_its_own_listings_with_notes_and_reasons(login, alice, italy, korea, list_targets):
    list_targets(italy, ["films.example", "music.example"], reference="AGCOM 12/24")
    list_targets(korea, ["korean-only.example"])
    Listing.objects.filter(target="films.example").update(note="seen by our lawyers")
    body = login(alice).get("/listings/").content.decode()
    assert "films.example" in body and "music.example" in body and "AGCOM 12/24" in body
    assert "seen by our lawyers" in body
    assert "korean-only.example" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/listings/", "/listings/upload/"])
def test_non_contributors_are_refused(login, carol, olga, url):
    assert login(carol).get(url).status_code == 403
    assert login(olga).get(url).status_code == 403


@pytest.mark.django_db
def test_search_filters_and_pagination(login, alice, italy, list_targets):
    list_targets(italy, [f"site{i:03}.example" for i in range(PAGE_SIZE + 5)])
    list_targets(italy, ["music-one.example"], category="streaming-music")
    client = login(alice)
    body = client.get("/listings/", {"q": "SITE00"}).content.decode()
    assert "site001.example" in body and "site010.example" not in body
    body = client.get("/listings/", {"category": "streaming-music"}).content.decode()
    assert "music-one.example" in body and "site001.example" not in body
    first = client.get("/listings/").content.decode()
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = client.get("/listings/", {"page": 2, "status": "active"}).content.decode()
    assert "site054.example" in second and "site000.example" not in second
    assert client.get("/listings/", {"status": "removed"}).content.decode().count('name="listing"') == 0


@pytest.mark.django_db
def test_add_one_listing(login, alice, italy):
    response = add(login(alice), "https://WWW.Films.Example/watch?v=1", reference="2024/1", note="internal")
    assert response.status_code == 302
    listing = Listing.objects.get(contributor=italy)
    assert (listing.target, listing.reference, listing.note) == ("www.films.example", "2024/1", "internal")
    assert FeedEntry.objects.filter(target="www.films.example").exists()


@pytest.mark.django_db
def test_add_shows_the_normalizers_reason(login, alice):
    response = add(login(alice), "192.168.0.1")
    assert response.status_code == 400
    assert "is an IP address" in response.content.decode()
    assert not Listing.objects.exists()


@pytest.mark.django_db
def test_add_shows_the_reason_in_the_chosen_language(login, alice):
    client = login(alice)
    client.cookies["sitealert_language"] = "fr"
    response = add(client, "192.168.0.1")
    assert "est une adresse IP" in response.content.decode()


@pytest.mark.django_db
def test_add_requires_a_category(login, alice):
    response = add(login(alice), "films.example", category="")
    assert response.status_code == 400
    assert not Listing.objects.exists()


@pytest.mark.django_db
def test_add_reports_a_bad_target_together_with_a_missing_category(login, alice):
    body = add(login(alice), "192.168.0.1", category="").content.decode()
    assert "is an IP address" in body and "This field is required." in body


@pytest.mark.django_db
def test_add_protected_target_is_held_with_reason(login, alice):
    ProtectedTarget.objects.create(target="bigplatform.example")
    client = login(alice)
    response = add(client, "video.bigplatform.example")
    assert response.status_code == 302
    assert Listing.objects.get().status == Listing.Status.HELD
    body = client.get("/listings/").content.decode()
    assert "overlaps the protected target" in body


@pytest.mark.django_db
def test_a_hold_for_a_protected_target_reads_in_each_readers_language(login, alice, olga):
    """The reason is kept as the protected target, not as text in the submitter's language."""
    ProtectedTarget.objects.create(target="bigplatform.example")
    client = login(alice)
    response = client.post("/listings/add/", {"target": "video.bigplatform.example", "category": "streaming-video"},
                           HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 302
    listing = Listing.objects.get()
    assert (listing.status_reason, listing.held_for) == ("", "bigplatform.example")
    french = client.get("/listings/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    english = client.get("/listings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "overlaps the protected target" in english and "overlaps the protected target" not in french
    assert "bigplatform.example" in french
    admin = login(olga).get(f"/admin/listings/listing/{listing.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert "overlaps the protected target" in admin.content.decode()


@pytest.mark.django_db
def test_remove_selected_with_reason(login, alice, italy, list_targets):
    list_targets(italy, ["a.example", "b.example", "c.example"])
    ids = list(Listing.objects.filter(target__in=["a.example", "b.example"]).values_list("pk", flat=True))
    response = login(alice).post("/listings/remove/", {"listing": ids, "reason": "Court order lifted"})
    assert response.status_code == 302
    removed = Listing.objects.filter(status=Listing.Status.REMOVED)
    assert {l.target for l in removed} == {"a.example", "b.example"}
    assert {l.status_reason for l in removed} == {"Court order lifted"}
    assert set(FeedEntry.objects.values_list("target", flat=True)) == {"c.example"}
    [event] = AuditEvent.objects.filter(action="listing.remove")
    assert sorted(event.items.values_list("object_repr", flat=True)) == ["a.example", "b.example"]
    assert event.detail["reason"] == "Court order lifted"


@pytest.mark.django_db
def test_remove_needs_a_reason(login, alice, italy, list_targets):
    list_targets(italy, ["a.example"])
    listing = Listing.objects.get()
    response = login(alice).post("/listings/remove/", {"listing": [listing.pk], "reason": " "})
    assert response.status_code == 400
    assert f'value="{listing.pk}" id="select-{listing.pk}"' in response.content.decode()
    assert Listing.objects.get().status == Listing.Status.ACTIVE


@pytest.mark.django_db
def test_another_contributor_cannot_remove(login, bob, italy, list_targets):
    list_targets(italy, ["a.example"])
    listing = Listing.objects.get()
    response = login(bob).post("/listings/remove/", {"listing": [listing.pk], "reason": "mine now"})
    assert response.status_code == 404
    assert Listing.objects.get().status == Listing.Status.ACTIVE


@pytest.mark.django_db
def test_user_cannot_add_or_remove(login, carol, italy, list_targets):
    list_targets(italy, ["a.example"])
    client = login(carol)
    assert add(client, "new.example").status_code == 403
    assert client.post("/listings/remove/", {"listing": [Listing.objects.get().pk], "reason": "x"}).status_code == 403
    assert Listing.objects.count() == 1 and Listing.objects.get().status == Listing.Status.ACTIVE


@pytest.mark.django_db
def test_add_enforces_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert add(client, "films.example").status_code == 403
    assert not Listing.objects.exists()
    token = client.get("/listings/").cookies["csrftoken"].value
    assert add(client, "films.example", csrfmiddlewaretoken=token).status_code == 302
    assert Listing.objects.count() == 1


@pytest.mark.django_db
def test_adding_an_already_listed_target_says_it_was_updated(login, alice, italy):
    client = login(alice)
    add(client, "films.example", reference="2024/1")
    response = add(client, "https://films.example/", reference="2024/2")
    assert response.status_code == 302
    assert "was already listed" in client.get("/listings/").content.decode()
    assert Listing.objects.get(contributor=italy).reference == "2024/2"
