"""The admin site from both sides: members of other organizations never get in, and operator staff
get in but cannot rewrite what belongs to contributors (listings, procedures, answers to review
requests), mint tokens, edit accounts or the audit log. They hold and release listings, with a reason."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from sitealert.listings.models import Listing
from sitealert.organizations.models import Membership
from tests.conftest import PASSWORD
from tests.security.attacks import listings_snapshot, row_counts
from tests.security.conftest import ITALY_NOTE

# What operator staff may do in the admin, per model; everything else is refused.
OPERATOR_MAY_ADD = {"organizations.Organization", "organizations.Membership", "listings.ProtectedTarget"}
OPERATOR_MAY_CHANGE = {"organizations.Organization", "organizations.Membership"}
OPERATOR_MAY_DELETE = {"organizations.Membership", "listings.ProtectedTarget"}


def admin_url(model, suffix=""):
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/{suffix}"


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_members_of_other_organizations_cannot_sign_in_to_the_admin(request, who):
    client = Client()
    client.post("/admin/login/", {"username": who, "password": PASSWORD, "next": "/admin/"})
    for path in ["/admin/", "/admin/listings/listing/", "/admin/organizations/organization/"]:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), path
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 200  # the admin's own page says the account is not authorized


@pytest.mark.django_db
def test_operator_staff_can_only_do_what_each_model_allows(world, olga):
    client = Client()
    client.force_login(olga)
    unexpected = []
    for model in admin.site._registry:
        label = model._meta.label
        obj = model._default_manager.first()
        before = row_counts()
        add = client.get(admin_url(model, "add/"))
        if (add.status_code == 200) != (label in OPERATOR_MAY_ADD):
            unexpected.append(f"add {label}: {add.status_code}")
        if obj is None:
            continue
        change_page = client.get(admin_url(model, f"{obj.pk}/change/"))
        if label in OPERATOR_MAY_CHANGE or change_page.status_code != 200:
            pass
        elif "<textarea" in change_page.content.decode() or 'type="text" name=' in change_page.content.decode():
            unexpected.append(f"change form of {label} has editable fields")
        if label not in OPERATOR_MAY_CHANGE:
            refused = client.post(admin_url(model, f"{obj.pk}/change/"), {"name": "x", "note": "x", "reference": "x"})
            if refused.status_code != 403:
                unexpected.append(f"change {label}: {refused.status_code}")
        if label not in OPERATOR_MAY_DELETE:
            refused = client.post(admin_url(model, f"{obj.pk}/delete/"), {"post": "yes"})
            if refused.status_code != 403:
                unexpected.append(f"delete {label}: {refused.status_code}")
            bulk = client.post(admin_url(model), {"action": "delete_selected", "_selected_action": [obj.pk],
                                                  "post": "yes"})
            if bulk.status_code not in (200, 302, 403):
                unexpected.append(f"bulk delete {label}: {bulk.status_code}")
        if row_counts() != before:
            unexpected.append(f"{label}: rows changed")
    assert unexpected == [], "\n".join(unexpected)


@pytest.mark.django_db
def test_operator_staff_cannot_rewrite_a_listing_but_can_hold_it(world, olga):
    client = Client()
    client.force_login(olga)
    listing = world["italy_listing"]
    before = listings_snapshot()
    page = client.get(admin_url(Listing, f"{listing.pk}/change/")).content.decode()
    assert 'name="note"' not in page and 'name="reference"' not in page and 'name="target"' not in page
    for data in [{"note": "rewritten", "reference": "rewritten", "target": "other.example", "category": "other",
                  "contributor": world["korea_listing"].contributor_id, "status": "removed"}]:
        assert client.post(admin_url(Listing, f"{listing.pk}/change/"), data).status_code == 403
        assert client.post(admin_url(Listing, "add/"), {**data, "target": "planted.example"}).status_code == 403
    assert listings_snapshot() == before
    held = client.post(admin_url(Listing), {"action": "hold", "_selected_action": [listing.pk], "apply": "1",
                                            "reason": "looks like a CDN"})
    assert held.status_code == 302
    listing.refresh_from_db()
    assert (listing.status, listing.status_reason, listing.note) == ("held", "looks like a CDN", ITALY_NOTE)


@pytest.mark.django_db
def test_operator_staff_cannot_edit_accounts(world, olga, alice):
    client = Client()
    client.force_login(olga)
    User = get_user_model()
    assert client.get("/admin/auth/user/").status_code == 403
    assert client.post(f"/admin/auth/user/{olga.pk}/change/", {"is_superuser": "on"}).status_code == 403
    assert client.post(f"/admin/auth/user/{alice.pk}/password/", {
        "password1": "a new password 123", "password2": "a new password 123"}).status_code == 403
    assert not User.objects.get(pk=olga.pk).is_superuser
    assert User.objects.get(pk=alice.pk).check_password(PASSWORD)


@pytest.mark.django_db
def test_operator_staff_cannot_become_a_contributor_through_memberships(world, italy, olga):
    """Operator staff may manage memberships, but must not use that to move their own (staff) account
    into a contributor and then add or remove listings in its name."""
    client = Client()
    client.force_login(olga)
    membership = Membership.objects.get(user=olga)
    before = listings_snapshot()
    client.post(admin_url(Membership, f"{membership.pk}/change/"),
                {"user": olga.pk, "organization": italy.pk, "role": "admin"})
    client.post(admin_url(Membership, "add/"), {"user": olga.pk, "organization": italy.pk, "role": "admin"})
    client.post("/listings/add/", {"target": "operator-planted.example", "category": "other"})
    client.post("/listings/remove/", {"listing": [world["italy_listing"].pk], "reason": "operator"})
    assert listings_snapshot() == before, "operator staff changed a contributor's listings"
