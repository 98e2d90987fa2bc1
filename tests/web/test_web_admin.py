import pytest

from sitealert.core.models import AuditEvent, AuditItem
from sitealert.feed.models import FeedEntry
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.organizations.models import ApiToken, Organization

CHANGELIST = "/admin/listings/listing/"


def act(client, url, action, objects, **extra):
    return client.post(url, {"action": action, "_selected_action": [o.pk for o in objects], **extra})


@pytest.fixture
def listing(italy, list_targets):
    list_targets(italy, ["films.example"])
    Listing.objects.update(note="operator may read this")
    return Listing.objects.get()


@pytest.mark.django_db
def test_operator_staff_sees_the_admin(login, olga):
    body = login(olga).get("/admin/").content.decode()
    for model in ["organization", "listing", "protectedtarget", "apitoken", "auditevent", "membership"]:
        assert f"/{model}/" in body


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "carol"])
def test_members_of_other_organizations_do_not_get_the_admin(request, login, who):
    response = login(request.getfixturevalue(who)).get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_hold_asks_for_a_reason_then_goes_through_the_service(login, olga, listing):
    client = login(olga)
    form = act(client, CHANGELIST, "hold", [listing])
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    assert Listing.objects.get().status == Listing.Status.ACTIVE
    empty = act(client, CHANGELIST, "hold", [listing], apply="1", reason="")
    assert empty.status_code == 200 and Listing.objects.get().status == Listing.Status.ACTIVE
    done = act(client, CHANGELIST, "hold", [listing], apply="1", reason="Looks like a CDN")
    assert done.status_code == 302
    held = Listing.objects.get()
    assert (held.status, held.status_reason) == (Listing.Status.HELD, "Looks like a CDN")
    assert not FeedEntry.objects.exists()
    event = AuditEvent.objects.get(action="listing.hold")
    assert event.user == olga and event.detail["reason"] == "Looks like a CDN" and event.via == "web"


@pytest.mark.django_db
def test_release_goes_through_the_service(login, olga, listing):
    client = login(olga)
    act(client, CHANGELIST, "hold", [listing], apply="1", reason="check")
    assert act(client, CHANGELIST, "release", [listing]).status_code == 302
    assert Listing.objects.get().status == Listing.Status.ACTIVE
    assert FeedEntry.objects.filter(target="films.example").exists()
    assert AuditEvent.objects.filter(action="listing.release", user=olga).exists()


@pytest.mark.django_db
def test_release_of_an_active_listing_is_refused_with_a_message(login, olga, listing):
    response = act(login(olga), CHANGELIST, "release", [listing])
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("Only a held listing can be released" in m for m in messages)
    assert not AuditEvent.objects.filter(action="listing.release").exists()


@pytest.mark.django_db
def test_operators_cannot_edit_or_delete_listings(login, olga, listing):
    client = login(olga)
    url = f"{CHANGELIST}{listing.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and "operator may read this" in page.content.decode()
    assert 'name="category"' not in page.content.decode()
    assert client.post(url, {"category": "other", "target": "evil.example"}).status_code == 403
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.post(f"{CHANGELIST}{listing.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Listing.objects.get().target == "films.example"


@pytest.mark.django_db
def test_audit_log_is_read_only(login, olga, listing):
    client = login(olga)
    event = AuditEvent.objects.first()
    assert client.get("/admin/core/auditevent/").status_code == 200
    assert client.get("/admin/core/auditevent/add/").status_code == 403
    assert client.post(f"/admin/core/auditevent/{event.pk}/change/", {"action": "x"}).status_code == 403
    assert client.post(f"/admin/core/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_an_upload_is_one_audit_event_found_by_any_of_its_targets(login, olga, italy, list_targets):
    list_targets(italy, ["films.example", "series.example", "music.example"])
    [event] = AuditEvent.objects.filter(action="listing.submit")
    assert event.object_repr == italy.slug and event.detail["created"] == 3
    client = login(olga)
    found = client.get("/admin/core/auditevent/", {"q": "series.example"}).content.decode()
    assert f"/admin/core/auditevent/{event.pk}/change/" in found
    page = client.get(f"/admin/core/auditevent/{event.pk}/change/").content.decode()
    assert "series.example" in page and f"/admin/listings/listing/?creation_event__id__exact={event.pk}" in page
    created = client.get("/admin/listings/listing/", {"creation_event__id__exact": event.pk}).content.decode()
    assert all(t in created for t in ["films.example", "series.example", "music.example"])
    listing = Listing.objects.get(target="series.example")
    assert f"/admin/core/auditevent/{event.pk}/change/" in client.get(
        f"/admin/listings/listing/{listing.pk}/change/").content.decode()

    # The listings a later upload changes are items of its event, found by their targets too.
    list_targets(italy, ["series.example"], category="other")
    changed = AuditEvent.objects.filter(action="listing.submit").exclude(pk=event.pk).get()
    found = client.get("/admin/core/auditevent/", {"q": "series.example"}).content.decode()
    assert f"/admin/core/auditevent/{event.pk}/change/" in found
    assert f"/admin/core/auditevent/{changed.pk}/change/" in found
    page = client.get(f"/admin/core/auditevent/{changed.pk}/change/").content.decode()
    assert f"/admin/core/audititem/?event__id__exact={changed.pk}" in page
    items = client.get("/admin/core/audititem/", {"event__id__exact": changed.pk}).content.decode()
    assert "series.example" in items and "films.example" not in items
    item = AuditItem.objects.get(event=changed)
    assert client.post(f"/admin/core/audititem/{item.pk}/delete/", {"post": "yes"}).status_code == 403
    with pytest.raises(RuntimeError):
        item.delete()


@pytest.mark.django_db
def test_approve_and_suspend_organizations(login, olga, adco):
    client = login(olga)
    url = "/admin/organizations/organization/"
    assert act(client, url, "suspend", [adco]).status_code == 200
    act(client, url, "suspend", [adco], apply="1", reason="terms breached")
    adco.refresh_from_db()
    assert adco.status == Organization.Status.SUSPENDED
    assert AuditEvent.objects.get(action="organization.status", detail__status="suspended").detail["reason"] == (
        "terms breached")
    act(client, url, "approve", [adco])
    adco.refresh_from_db()
    assert adco.status == Organization.Status.APPROVED


@pytest.mark.django_db
def test_create_organization_in_admin_validates_and_audits(login, olga):
    client = login(olga)
    url = "/admin/organizations/organization/add/"
    bad = client.post(url, {"name": "Office", "kind": "contributor", "country": "", "status": "approved"})
    assert bad.status_code == 200 and "country code" in bad.content.decode()
    ok = client.post(url, {"name": "Office", "kind": "contributor", "country": "fr", "status": "approved"})
    assert ok.status_code == 302
    org = Organization.objects.get(name="Office")
    assert org.country == "FR" and org.slug == "office"
    assert AuditEvent.objects.filter(action="organization.create", object_repr="office").exists()


@pytest.mark.django_db
def test_tokens_admin_never_shows_the_secret_and_revokes(login, olga, adco_token):
    client = login(olga)
    token = ApiToken.objects.get()
    page = client.get(f"/admin/organizations/apitoken/{token.pk}/change/").content.decode()
    assert adco_token not in page and token.token_hash not in page
    assert client.get("/admin/organizations/apitoken/add/").status_code == 403
    act(client, "/admin/organizations/apitoken/", "revoke", [token])
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoke", user=olga).exists()


@pytest.mark.django_db
def test_protected_targets_are_normalized_and_audited(login, olga):
    client = login(olga)
    url = "/admin/listings/protectedtarget/add/"
    bad = client.post(url, {"target": "com", "reason": "x"})
    assert "public suffix" in bad.content.decode()
    app = client.post(url, {"target": "android:com.example.app", "reason": "x"})
    assert "Only domains can be protected targets." in app.content.decode()
    assert client.post(url, {"target": "HTTPS://Big-Platform.Example/", "reason": "platform"}).status_code == 302
    protected = ProtectedTarget.objects.get()
    assert protected.target == "big-platform.example" and protected.created_by == olga
    assert AuditEvent.objects.filter(action="protected.add", object_repr="big-platform.example").exists()
    client.post(f"/admin/listings/protectedtarget/{protected.pk}/delete/", {"post": "yes"})
    assert not ProtectedTarget.objects.exists()
    assert AuditEvent.objects.filter(action="protected.remove").exists()


@pytest.mark.django_db
def test_the_admin_home_says_nothing_waits_when_nothing_does(login, olga):
    body = login(olga).get("/admin/").content.decode()
    assert 'id="waiting-work"' in body and "Nothing is waiting for you." in body


@pytest.mark.django_db
def test_the_admin_home_lists_what_waits_for_the_operator(login, olga, italy, list_targets):
    from datetime import timedelta

    from django.utils import timezone

    from sitealert.core.actors import Actor
    from sitealert.organizations.services import create_organization
    from sitealert.reviews.models import ReviewCase, ReviewRequest

    create_organization(kind="contributor", name="Awaiting Authority", country="FR", actor=Actor(via="cli"),
                        status=Organization.Status.PENDING)
    ProtectedTarget.objects.create(target="guarded.example")
    list_targets(italy, ["guarded.example", "other.example"])
    now = timezone.now()
    for n, due in enumerate([now - timedelta(days=1), now + timedelta(days=3)]):
        request = ReviewRequest.objects.create(query="other.example", target="other.example", name="Sam",
                                               email="sam@site.test", relationship="operator", reasons="r",
                                               confirm_token_hash=f"{n:064d}", confirmed_at=now)
        ReviewCase.objects.create(request=request, contributor=italy, listed_targets=["other.example"], due_at=due)
    body = login(olga).get("/admin/").content.decode()
    assert "Nothing is waiting" not in body
    for label, url in [("Organizations awaiting approval", "/admin/organizations/organization/?status__exact=pending"),
                       ("Listings held for review", "/admin/listings/listing/?status__exact=held"),
                       ("Review cases past their due date", "/admin/reviews/reviewcase/?overdue=yes")]:
        assert f'<a href="{url}">{label}</a></th><td>1</td>' in body, label
    overdue = login(olga).get("/admin/reviews/reviewcase/?overdue=yes").content.decode()
    assert "1 review case" in overdue and "Past its due date" in overdue


@pytest.mark.django_db
def test_the_waiting_work_is_for_operator_staff_only(rf, alice):
    from sitealert.front.admin import waiting_work

    request = rf.get("/admin/")
    request.user = alice
    assert waiting_work(request) == []


@pytest.mark.django_db
def test_the_waiting_work_speaks_the_operators_language(login, olga):
    body = login(olga).get("/admin/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "En attente de votre part" in body and "Rien n’attend votre intervention." in body
