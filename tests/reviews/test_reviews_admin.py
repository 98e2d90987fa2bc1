"""Operator staff read review requests in the admin site, without the secret token hashes."""

import pytest


@pytest.mark.django_db
def test_operator_reads_review_requests_but_cannot_change_them(client, olga, italy, italy_case):
    review = italy_case.request
    client.force_login(olga)

    listing = client.get("/admin/reviews/reviewrequest/")
    detail = client.get(f"/admin/reviews/reviewrequest/{review.pk}/change/")

    assert listing.status_code == 200 and "pirate.test" in listing.content.decode()
    assert detail.status_code == 200
    html = detail.content.decode()
    assert review.status_token_hash not in html and review.confirm_token_hash not in html
    assert italy.name in html
    response = client.post(f"/admin/reviews/reviewrequest/{review.pk}/change/", {"target": "other.test"})
    assert response.status_code == 403
    assert client.get("/admin/reviews/reviewcase/").status_code == 200
    assert client.get("/admin/procedures/procedurerevision/").status_code == 200


@pytest.mark.django_db
def test_contributors_cannot_open_the_admin_views(client, alice):
    client.force_login(alice)
    assert client.get("/admin/reviews/reviewrequest/").status_code in (302, 403)
