"""Review requests end to end: submit, confirm by e-mail, contributor answers, requester follows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sitealert.core.models import AuditEvent
from sitealert.feed.models import Change, FeedEntry
from sitealert.listings.models import Listing
from sitealert.reviews import services as reviews
from sitealert.reviews.models import ReviewCase, ReviewRequest, hash_token


@pytest.mark.django_db
def test_round_trip_remove(client, alice, bob, italy, korea, list_targets, confirmed_review, mailoutbox, settings,
                           email_links):
    list_targets(italy, ["pirate.test"])
    list_targets(korea, ["pirate.test"])
    mailoutbox.clear()

    status_path = confirmed_review("https://www.pirate.test/film")

    review = ReviewRequest.objects.get()
    assert review.target == "www.pirate.test" and review.confirmed_at is not None
    assert review.evidence_links == ["https://site.test/notice", "http://archive.test/x"]
    cases = {c.contributor: c for c in review.cases.all()}
    assert set(cases) == {italy, korea}
    assert all(c.listed_targets == ["pirate.test"] for c in cases.values())
    assert all(c.due_at - c.opened_at == timedelta(days=30) for c in cases.values())
    # The requester gets the status link; each contributor's members are told.
    to_requester = [m for m in mailoutbox if m.to == ["owner@site.test"]]
    assert any(settings.SITE_URL + status_path in email_links(m) for m in to_requester)
    assert {tuple(m.to) for m in mailoutbox} >= {("alice@example.test",), ("bob@example.test",)}

    page = client.get(status_path).content.decode()
    assert italy.name in page and korea.name in page and "Awaiting an answer" in page

    # Italy removes its listing from its inbox.
    client.force_login(alice)
    inbox = client.get("/review-requests/inbox/").content.decode()
    assert "www.pirate.test" in inbox
    case = cases[italy]
    detail = client.get(f"/review-requests/inbox/{case.pk}/").content.decode()
    assert "Sam Owner" in detail and "owner@site.test" in detail and "https://site.test/notice" in detail
    version_before = Change.objects.order_by("-seq").first().seq
    response = client.post(f"/review-requests/inbox/{case.pk}/",
                           {"outcome": "removed", "explanation": "Content is gone; listing withdrawn."})
    assert response.status_code == 302

    listing = Listing.objects.get(contributor=italy, target="pirate.test")
    assert listing.status == Listing.Status.REMOVED
    assert listing.status_reason == "Content is gone; listing withdrawn."
    # Korea still lists it: the aggregated list changed (countries) through the normal change log.
    assert FeedEntry.objects.get(target="pirate.test").countries == "KR"
    assert Change.objects.filter(seq__gt=version_before, target="pirate.test").exists()
    assert AuditEvent.objects.filter(action="review.answer", detail__outcome="removed").exists()
    assert AuditEvent.objects.filter(action="listing.remove", object_repr="pirate.test").exists()
    assert mailoutbox[-1].to == ["owner@site.test"] and "has removed its listing" in mailoutbox[-1].body

    # Korea upholds.
    client.force_login(bob)
    response = client.post(f"/review-requests/inbox/{cases[korea].pk}/",
                           {"outcome": "upheld", "explanation": "Still streams our broadcasts."})
    assert response.status_code == 302
    assert Listing.objects.get(contributor=korea, target="pirate.test").status == Listing.Status.ACTIVE

    client.logout()
    page = client.get(status_path).content.decode()
    assert "Listing removed" in page and "Content is gone; listing withdrawn." in page
    assert "Listing upheld" in page and "Still streams our broadcasts." in page

    counts = reviews.review_counts()
    assert (counts[italy.pk].received, counts[italy.pk].removed, counts[italy.pk].upheld) == (1, 1, 0)
    assert (counts[korea.pk].received, counts[korea.pk].upheld) == (1, 1)
    assert counts[italy.pk].median_days is not None


@pytest.mark.django_db
def test_nothing_reaches_contributors_before_confirmation(client, italy, alice, list_targets, submit_review,
                                                          mailoutbox):
    list_targets(italy, ["pirate.test"])
    submit_review("pirate.test")

    assert ReviewCase.objects.count() == 0
    assert [m.to for m in mailoutbox] == [["owner@site.test"]]
    client.force_login(alice)
    assert "pirate.test" not in client.get("/review-requests/inbox/").content.decode()


@pytest.mark.django_db
def test_confirmation_link_get_shows_a_button_and_does_not_confirm(client, italy, list_targets, submit_review,
                                                                   settings):
    list_targets(italy, ["pirate.test"])
    path = submit_review("pirate.test").removeprefix(settings.SITE_URL)

    response = client.get(path)

    assert response.status_code == 200
    assert 'id="review-confirm"' in response.content.decode()
    assert ReviewRequest.objects.get().confirmed_at is None


@pytest.mark.django_db
def test_confirmation_link_works_once_and_expires(client, italy, list_targets, submit_review, settings):
    list_targets(italy, ["pirate.test"])
    path = submit_review("pirate.test").removeprefix(settings.SITE_URL)
    assert client.post(path).status_code == 302

    again = client.post(path)
    assert again.status_code == 200 and "already confirmed" in again.content.decode()
    assert ReviewCase.objects.count() == 1

    path2 = submit_review("pirate.test", email="other@site.test").removeprefix(settings.SITE_URL)
    ReviewRequest.objects.filter(email="other@site.test").update(created_at=timezone.now() - timedelta(hours=49))
    expired = client.post(path2)
    assert "has expired" in expired.content.decode()
    assert ReviewRequest.objects.get(email="other@site.test").confirmed_at is None
    assert reviews.purge_unconfirmed_requests() == 1


@pytest.mark.django_db
def test_unknown_links_are_404(client):
    assert client.get("/review-requests/confirm/not-a-token/").status_code == 404
    assert client.get("/review-requests/status/not-a-token/").status_code == 404


@pytest.mark.django_db
def test_tokens_are_stored_hashed(italy, list_targets, confirmed_review):
    list_targets(italy, ["pirate.test"])
    status_path = confirmed_review("pirate.test")
    token = status_path.rstrip("/").rsplit("/", 1)[1]

    review = ReviewRequest.objects.get()
    assert len(token) >= 40
    assert review.status_token_hash == hash_token(token)
    assert token not in str(ReviewRequest.objects.values().get())


@pytest.mark.django_db
def test_form_refuses_unlisted_invalid_and_bad_links(client, italy, list_targets):
    list_targets(italy, ["pirate.test"])
    base = {"name": "Sam", "email": "sam@site.test", "relationship": "operator", "reasons": "Wrong."}

    unlisted = client.post("/review-requests/new/", {**base, "target": "innocent.test"}).content.decode()
    assert "is not on the list, so there is nothing to review" in unlisted
    invalid = client.post("/review-requests/new/", {**base, "target": "10.0.0.1"}).content.decode()
    assert "is an IP address" in invalid
    bad_link = client.post("/review-requests/new/", {**base, "target": "pirate.test",
                                                     "evidence": "javascript:alert(1)"}).content.decode()
    assert "is not a web address starting with http:// or https://" in bad_link
    missing = client.post("/review-requests/new/", {"target": "pirate.test"}).content.decode()
    assert missing.count('<p class="field-error">This field is required.</p>') == 4  # beside each field
    assert missing.count(': This field is required.</a></li>') == 4  # and in the summary at the top
    assert ReviewRequest.objects.count() == 0


@pytest.mark.django_db
def test_form_fields_are_labelled(client):
    html = client.get("/review-requests/new/?target=pirate.test").content.decode()
    for name in ("target", "name", "email", "relationship", "reasons", "evidence", "homepage"):
        assert f'<label for="id_{name}">' in html
    assert 'value="pirate.test"' in html


@pytest.mark.django_db
def test_honeypot_submission_is_dropped_silently(client, italy, list_targets, mailoutbox):
    list_targets(italy, ["pirate.test"])

    response = client.post("/review-requests/new/", {
        "target": "pirate.test", "name": "Bot", "email": "bot@spam.test", "relationship": "other",
        "reasons": "Buy now", "homepage": "http://spam.test"})

    assert response.status_code == 302 and response["Location"] == "/review-requests/sent/"
    assert ReviewRequest.objects.count() == 0 and mailoutbox == []


@pytest.mark.django_db
def test_rate_limits_per_address_and_per_email(client, italy, list_targets, submit_review, settings):
    list_targets(italy, ["pirate.test"])
    settings.SITEALERT = {**settings.SITEALERT, "REVIEW_REQUEST_EMAIL_RATE": 2, "REVIEW_REQUEST_IP_RATE": 4}
    submit_review("pirate.test", email="same@site.test")
    submit_review("pirate.test", email="same@site.test")
    data = {"target": "pirate.test", "name": "Sam", "relationship": "operator", "reasons": "Wrong."}

    third = client.post("/review-requests/new/", {**data, "email": "same@site.test"})
    assert third.status_code == 429 and "Retry-After" in third
    # The refused third did not count against the address: two more are accepted.
    assert client.post("/review-requests/new/", {**data, "email": "new@site.test"}).status_code == 302
    assert client.post("/review-requests/new/", {**data, "email": "fourth@site.test"}).status_code == 302
    # The address has now sent four requests: the fifth is refused whatever the e-mail.
    assert client.post("/review-requests/new/", {**data, "email": "fifth@site.test"}).status_code == 429
    assert ReviewRequest.objects.count() == 4


REASONS = "We took every film down on 3 March; see the notice."


def review_post(**fields):
    return {"target": "pirate.test", "name": "Sam Owner", "email": "owner@site.test", "relationship": "operator",
            "reasons": REASONS, "evidence": "https://site.test/notice", "homepage": "", **fields}


@pytest.mark.django_db
def test_posts_with_errors_do_not_use_up_the_accepted_requests(client, italy, list_targets, settings):
    list_targets(italy, ["pirate.test"])
    settings.SITEALERT = {**settings.SITEALERT, "REVIEW_REQUEST_IP_RATE": 2, "REVIEW_REQUEST_EMAIL_RATE": 2}

    for typo in ("pirat.test", "10.0.0.1", "pirate test", "", "pirate.tst", "piratetest", "ftp://", "x", "y", "z"):
        response = client.post("/review-requests/new/", review_post(target=typo))
        assert response.status_code == 200
    accepted = [client.post("/review-requests/new/", review_post()).status_code for _ in range(2)]

    assert accepted == [302, 302] and ReviewRequest.objects.count() == 2


@pytest.mark.django_db
def test_a_validation_error_keeps_what_was_typed(client, italy, list_targets):
    list_targets(italy, ["pirate.test"])

    html = client.post("/review-requests/new/", review_post(target="innocent.test")).content.decode()

    assert "is not on the list, so there is nothing to review" in html
    assert 'value="innocent.test"' in html and REASONS in html and 'value="owner@site.test"' in html
    assert 'id="review-limited"' not in html


@pytest.mark.django_db
def test_over_the_accepted_limit_the_form_says_why_and_keeps_the_text(client, italy, list_targets, settings,
                                                                      mailoutbox):
    list_targets(italy, ["pirate.test"])
    settings.SITEALERT = {**settings.SITEALERT, "REVIEW_REQUEST_IP_RATE": 1}
    assert client.post("/review-requests/new/", review_post()).status_code == 302

    response = client.post("/review-requests/new/", review_post(email="colleague@site.test"))

    html = response.content.decode()
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert 'id="review-limited"' in html and "Your request has not been sent" in html
    assert "Please try again in" in html and 'href="/procedures/"' in html
    assert 'value="colleague@site.test"' in html and REASONS in html and 'id="review-form"' in html
    assert "check page" not in html and "check only a limited number of sites" not in html
    assert ReviewRequest.objects.count() == 1 and len(mailoutbox) == 1


@pytest.mark.django_db
def test_a_flood_of_invalid_posts_waits_and_keeps_the_text(client, italy, list_targets, settings):
    list_targets(italy, ["pirate.test"])
    settings.SITEALERT = {**settings.SITEALERT, "REVIEW_INVALID_POST_RATE": 3}
    for _ in range(3):
        assert client.post("/review-requests/new/", review_post(target="innocent.test")).status_code == 200

    response = client.post("/review-requests/new/", review_post(target="innocent.test"))

    html = response.content.decode()
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "sent with errors too many times" in html and "Please try again in" in html
    assert 'value="innocent.test"' in html and REASONS in html
    assert "is not on the list" in html  # the error is still shown beside the field
    # The limit on invalid posts is the client's own: a correct request still goes through.
    assert client.post("/review-requests/new/", review_post()).status_code == 302


@pytest.mark.django_db
def test_honeypot_posts_count_as_invalid(client, italy, list_targets, settings):
    list_targets(italy, ["pirate.test"])
    settings.SITEALERT = {**settings.SITEALERT, "REVIEW_INVALID_POST_RATE": 2}
    bot = review_post(homepage="http://spam.test")

    assert [client.post("/review-requests/new/", bot).status_code for _ in range(3)] == [302, 302, 429]
    assert ReviewRequest.objects.count() == 0


def test_the_wait_is_said_in_minutes_then_hours():
    from sitealert.core.pages import try_again_in

    assert try_again_in(1) == "Please try again in 1 minute."
    assert try_again_in(3600) == "Please try again in 60 minutes."
    assert try_again_in(86399) == "Please try again in 24 hours."


@pytest.mark.django_db
def test_request_reaches_only_contributors_that_list_a_covering_target(italy, korea, list_targets,
                                                                        confirmed_review):
    list_targets(italy, ["example.test"])
    list_targets(korea, ["other.test"])

    confirmed_review("shop.example.test")

    (case,) = ReviewCase.objects.all()
    assert case.contributor == italy and case.listed_targets == ["example.test"]


@pytest.mark.django_db
def test_answer_needs_an_explanation_and_happens_once(client, alice, italy_case):
    case = italy_case
    client.force_login(alice)

    empty = client.post(f"/review-requests/inbox/{case.pk}/", {"outcome": "upheld", "explanation": "  "})
    assert empty.status_code == 200 and ReviewCase.objects.get().is_open
    client.post(f"/review-requests/inbox/{case.pk}/", {"outcome": "upheld", "explanation": "Still infringing."})
    client.post(f"/review-requests/inbox/{case.pk}/", {"outcome": "removed", "explanation": "Changed my mind."})

    case.refresh_from_db()
    assert case.outcome == "upheld" and case.explanation == "Still infringing."
    assert Listing.objects.get(target="pirate.test").status == Listing.Status.ACTIVE


# --- Permission attacks -----------------------------------------------------------------------

@pytest.mark.django_db
def test_another_contributor_cannot_see_or_answer(client, bob, italy_case):
    client.force_login(bob)

    assert "pirate.test" not in client.get("/review-requests/inbox/").content.decode()
    assert client.get(f"/review-requests/inbox/{italy_case.pk}/").status_code == 404
    response = client.post(f"/review-requests/inbox/{italy_case.pk}/",
                           {"outcome": "removed", "explanation": "Hostile takeover."})
    assert response.status_code == 404
    italy_case.refresh_from_db()
    assert italy_case.is_open
    assert Listing.objects.get(target="pirate.test").status == Listing.Status.ACTIVE


@pytest.mark.django_db
def test_an_authorized_user_and_the_operator_cannot_see_or_answer(client, carol, olga, italy_case):
    for person in (carol, olga):
        client.force_login(person)
        assert client.get("/review-requests/inbox/").status_code == 403
        assert client.get(f"/review-requests/inbox/{italy_case.pk}/").status_code == 404
        assert client.post(f"/review-requests/inbox/{italy_case.pk}/",
                           {"outcome": "removed", "explanation": "x"}).status_code == 404
    italy_case.refresh_from_db()
    assert italy_case.is_open


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, italy_case):
    for response in (client.get("/review-requests/inbox/"),
                     client.get(f"/review-requests/inbox/{italy_case.pk}/"),
                     client.post(f"/review-requests/inbox/{italy_case.pk}/", {"outcome": "removed",
                                                                             "explanation": "x"})):
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    italy_case.refresh_from_db()
    assert italy_case.is_open


@pytest.mark.django_db
def test_suspended_contributor_cannot_answer(client, alice, italy, olga, italy_case):
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import set_organization_status

    set_organization_status(italy, "suspended", actor=Actor(user=olga, organization=olga.membership.organization))
    client.force_login(alice)

    assert client.get("/review-requests/inbox/").status_code == 403
    assert client.post(f"/review-requests/inbox/{italy_case.pk}/",
                       {"outcome": "removed", "explanation": "x"}).status_code == 404


@pytest.mark.django_db
def test_service_refuses_an_actor_of_another_contributor(korea, italy_case):
    from django.core.exceptions import PermissionDenied

    from sitealert.core.actors import Actor

    with pytest.raises(PermissionDenied):
        reviews.answer_case(italy_case, "removed", "x", actor=Actor(organization=korea))


# --- Due dates and reminders ------------------------------------------------------------------

@pytest.mark.django_db
def test_reminders_before_due_date_then_while_overdue(italy_case, alice, mailoutbox):
    opened = italy_case.opened_at
    mailoutbox.clear()

    assert reviews.send_due_reminders(opened + timedelta(days=10)) == 0
    assert reviews.send_due_reminders(opened + timedelta(days=23, hours=1)) == 1
    assert mailoutbox[-1].to == ["alice@example.test"] and "Reminder" in mailoutbox[-1].subject
    assert reviews.send_due_reminders(opened + timedelta(days=24)) == 0  # not twice
    assert reviews.send_due_reminders(opened + timedelta(days=30, hours=1)) == 1
    assert "Overdue" in mailoutbox[-1].subject
    assert reviews.send_due_reminders(opened + timedelta(days=33)) == 0
    assert reviews.send_due_reminders(opened + timedelta(days=37, hours=2)) == 1
    italy_case.refresh_from_db()
    assert italy_case.reminders_sent == 3
    assert reviews.review_counts(now=opened + timedelta(days=31))[italy_case.contributor_id].overdue == 1


@pytest.mark.django_db
def test_answered_cases_get_no_reminders(client, alice, italy_case, mailoutbox):
    client.force_login(alice)
    client.post(f"/review-requests/inbox/{italy_case.pk}/", {"outcome": "upheld", "explanation": "Still bad."})
    mailoutbox.clear()

    assert reviews.send_due_reminders(italy_case.opened_at + timedelta(days=40)) == 0
    assert mailoutbox == []


@pytest.mark.django_db
def test_due_days_are_configurable(settings, italy, list_targets, confirmed_review):
    settings.SITEALERT = {**settings.SITEALERT, "REVIEW_DUE_DAYS": 14}
    list_targets(italy, ["pirate.test"])
    confirmed_review("pirate.test")

    case = ReviewCase.objects.get()
    assert case.due_at - case.opened_at == timedelta(days=14)


@pytest.mark.django_db
def test_listing_removed_meanwhile_can_only_be_answered_removed(client, alice, italy, italy_case):
    from sitealert.core.actors import Actor
    from sitealert.listings.services import remove_listings

    remove_listings(italy, ["pirate.test"], "Withdrawn by the office", actor=Actor(organization=italy))
    client.force_login(alice)

    refused = client.post(f"/review-requests/inbox/{italy_case.pk}/", {"outcome": "upheld", "explanation": "Keep."})
    assert "None of these listings is active any more" in refused.content.decode()
    client.post(f"/review-requests/inbox/{italy_case.pk}/", {"outcome": "removed", "explanation": "Already gone."})
    italy_case.refresh_from_db()
    assert italy_case.outcome == "removed"
    assert Listing.objects.get(target="pirate.test").status_reason == "Withdrawn by the office"


@pytest.mark.django_db
def test_removing_a_listing_held_by_the_operator(client, alice, olga, italy_case):
    from sitealert.core.actors import Actor
    from sitealert.listings.services import hold_listing

    hold_listing(Listing.objects.get(target="pirate.test"), "Checking",
        actor=Actor(user=olga, organization=olga.membership.organization))
    client.force_login(alice)
    client.post(f"/review-requests/inbox/{italy_case.pk}/", {"outcome": "removed", "explanation": "Agreed."})

    assert Listing.objects.get(target="pirate.test").status == Listing.Status.REMOVED


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["Sam\nURGENT: log in at http://phish.example/", "Sam\u2028Owner", "Sam\x07",
                                  "Sam\x85Owner"])
def test_a_name_over_several_lines_never_reaches_an_e_mail(client, italy, list_targets, mailoutbox, name):
    list_targets(italy, ["site.test"])
    response = client.post("/review-requests/new/", {
        "target": "site.test", "name": name, "email": "owner@site.test", "relationship": "operator",
        "reasons": "We removed all infringing material.", "evidence": "", "homepage": ""})
    assert response.status_code == 200 and "Write your name on one line" in response.content.decode()
    assert not mailoutbox


@pytest.mark.django_db
def test_the_status_page_is_not_stored_by_caches(confirmed_review, italy, list_targets, client):
    list_targets(italy, ["site.test"])
    response = client.get(confirmed_review("site.test"))
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["محمد\u200cرضا", "Jean\u00a0Dupont", "\u200fسارا"])
def test_names_as_people_write_them_are_accepted(submit_review, italy, list_targets, name):
    list_targets(italy, ["site.test"])
    assert submit_review("site.test", name=name)


@pytest.mark.django_db
def test_the_status_page_names_each_country_once(client, italy, list_targets, confirmed_review):
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import create_organization

    office = create_organization(kind="contributor", name="Demo Copyright Office (Italy)", country="IT",
                                 actor=Actor(via="cli"))
    list_targets(office, ["pirate.test"])

    html = client.get(confirmed_review("pirate.test")).content.decode()

    assert "(Italy) (Italy)" not in html and "(Italy)</a> (Italy)" not in html
    assert "<dt>Country</dt><dd>Italy</dd>" in html
