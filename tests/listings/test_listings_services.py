"""The listing services: one path for web, API and CLI, all-or-nothing, audited, change-logged."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from sitealert.core.models import AuditEvent, AuditItem
from sitealert.feed.models import Change, FeedEntry, FeedState
from sitealert.listings.csv_import import import_csv
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.listings.services import EntryInput, remove_listings, submit_entries
from tests.conftest import actor

pytestmark = pytest.mark.django_db


def entries(*targets, category="streaming-video"):
    return [EntryInput(target=t, category=category, reference="AGCOM 1/26", row=i + 2) for i, t in enumerate(targets)]


def test_submit_normalizes_and_publishes(italy):
    report = submit_entries(italy, entries("HTTPS://WWW.Pirate-Films.example/path?x=1", "ｃｉｎｅ.example."),
                            actor=actor(italy))
    assert report.applied
    assert [r.target for r in report.rows] == ["www.pirate-films.example", "cine.example"]
    assert set(FeedEntry.objects.values_list("target", flat=True)) == {"www.pirate-films.example", "cine.example"}
    assert FeedState.objects.get().version == 2
    [event] = AuditEvent.objects.filter(action="listing.submit")
    assert set(Listing.objects.values_list("creation_event", flat=True)) == {event.pk}
    assert not AuditItem.objects.filter(event=event).exists()


def test_same_entries_twice_change_nothing(italy):
    submit_entries(italy, entries("a.example", "b.example"), actor=actor(italy))
    before = (FeedState.objects.get().version, Change.objects.count())
    report = submit_entries(italy, entries("a.example", "b.example"), actor=actor(italy))
    assert report.counts["unchanged"] == 2
    assert (FeedState.objects.get().version, Change.objects.count()) == before


def test_one_bad_row_changes_nothing(italy):
    report = submit_entries(italy, entries("good.example", "192.168.0.1", "co.uk"), actor=actor(italy))
    assert not report.applied
    assert report.counts["rejected"] == 2
    assert [r.row for r in report.rows if r.status == "rejected"] == [3, 4]
    assert all(r.reason for r in report.rows if r.status == "rejected")
    assert not Listing.objects.exists() and not FeedEntry.objects.exists()


def test_accept_valid_rows_applies_the_rest(italy):
    report = submit_entries(italy, entries("good.example", "not a host"), actor=actor(italy), accept_valid_rows=True)
    assert report.applied
    assert list(FeedEntry.objects.values_list("target", flat=True)) == ["good.example"]


def test_unknown_category_and_duplicates_are_rejected_with_row_numbers(italy):
    rows = entries("a.example") + [EntryInput(target="b.example", category="films", row=3),
                                   EntryInput(target="A.example", category="other", row=4)]
    report = submit_entries(italy, rows, actor=actor(italy))
    reasons = {r.row: r.reason for r in report.rows if r.status == "rejected"}
    assert "films" in reasons[3] and "streaming-video" in reasons[3]
    assert "row 2" in reasons[4]


def test_two_contributors_aggregate_countries(italy, korea):
    submit_entries(italy, entries("shared.example"), actor=actor(italy))
    submit_entries(korea, entries("shared.example", category="torrent-index"), actor=actor(korea))
    entry = FeedEntry.objects.get(target="shared.example")
    assert entry.countries == "IT,KR"
    assert entry.categories == "streaming-video,torrent-index"
    remove_listings(italy, ["shared.example"], "Court order annulled", actor=actor(italy))
    assert FeedEntry.objects.get(target="shared.example").countries == "KR"
    remove_listings(korea, ["shared.example"], "Site closed", actor=actor(korea))
    assert not FeedEntry.objects.exists()
    last = Change.objects.order_by("-seq").first()
    assert last.listed is False and last.target == "shared.example"


def test_contributor_cannot_remove_anothers_listing(italy, korea):
    submit_entries(italy, entries("a.example"), actor=actor(italy))
    report = remove_listings(korea, ["a.example"], "mine now", actor=actor(korea))
    assert not report.applied and report.counts["rejected"] == 1
    assert Listing.objects.get().status == "active"
    with pytest.raises(PermissionDenied):
        remove_listings(italy, ["a.example"], "pretending", actor=actor(korea))
    with pytest.raises(PermissionDenied):
        submit_entries(italy, entries("b.example"), actor=actor(korea))


def test_a_removal_decided_earlier_keeps_its_date_between_the_listing_and_now(italy):
    now = timezone.now()
    submit_entries(italy, [EntryInput(target=t, category="other", listed_at=now - timedelta(days=100))
                           for t in ("a.example", "b.example", "c.example")], actor=actor(italy))
    remove_listings(italy, ["a.example"], "Decision lifted", actor=actor(italy), removed_at=now - timedelta(days=40))
    remove_listings(italy, ["b.example"], "Decision lifted", actor=actor(italy), removed_at=now - timedelta(days=400))
    remove_listings(italy, ["c.example"], "Decision lifted", actor=actor(italy), removed_at=now + timedelta(days=9))
    removed = {l.target: l for l in Listing.objects.filter(status=Listing.Status.REMOVED)}
    assert abs(removed["a.example"].status_changed_at - (now - timedelta(days=40))) < timedelta(seconds=1)
    assert removed["b.example"].status_changed_at == removed["b.example"].listed_at
    assert now <= removed["c.example"].status_changed_at <= timezone.now()
    assert Change.objects.filter(listed=False).count() == 3


def test_removal_needs_a_reason(italy):
    submit_entries(italy, entries("a.example"), actor=actor(italy))
    report = remove_listings(italy, ["a.example"], "  ", actor=actor(italy))
    assert report.error and not report.applied
    assert Listing.objects.get().status == "active"


def test_users_and_suspended_contributors_cannot_write(italy, adco):
    with pytest.raises(PermissionDenied):
        submit_entries(adco, entries("a.example"), actor=actor(adco))
    italy.status = "suspended"
    italy.save()
    with pytest.raises(PermissionDenied):
        submit_entries(italy, entries("a.example"), actor=actor(italy))


def test_protected_targets_are_held_not_published(italy):
    ProtectedTarget.objects.create(target="bigvideo.example")
    report = submit_entries(italy, entries("bigvideo.example", "user.bigvideo.example", "example-cdn.example"),
                            actor=actor(italy))
    statuses = {r.target: r.status for r in report.rows}
    assert statuses == {"bigvideo.example": "held", "user.bigvideo.example": "held", "example-cdn.example": "accepted"}
    assert all("protected" in r.reason for r in report.rows if r.status == "held")
    assert list(FeedEntry.objects.values_list("target", flat=True)) == ["example-cdn.example"]


def test_listing_a_parent_of_a_protected_target_is_held(italy):
    ProtectedTarget.objects.create(target="cdn.hosting.example")
    report = submit_entries(italy, entries("hosting.example"), actor=actor(italy))
    assert report.rows[0].status == "held"


def test_removed_then_relisted(italy):
    submit_entries(italy, entries("a.example"), actor=actor(italy))
    remove_listings(italy, ["a.example"], "mistake", actor=actor(italy))
    report = submit_entries(italy, entries("a.example"), actor=actor(italy))
    assert report.rows[0].status == "accepted"
    assert FeedEntry.objects.filter(target="a.example").exists()


CSV_OK = "target,category,reference,note\nfilms.example,streaming-video,AG-1,seen 2026-01\nhttps://music.example/,streaming-music,AG-2,\n"


def test_csv_import_with_bom_and_dry_run(italy):
    data = b"\xef\xbb\xbf" + CSV_OK.encode()
    report = import_csv(italy, data, actor=actor(italy), dry_run=True)
    assert report.counts["accepted"] == 2 and not report.applied
    assert not Listing.objects.exists()
    report = import_csv(italy, data, actor=actor(italy))
    assert report.applied and Listing.objects.count() == 2
    again = import_csv(italy, data, actor=actor(italy))
    assert again.counts["unchanged"] == 2


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty"),
    (CSV_OK.encode("utf-16"), "UTF-16"),
    ("target,category\ncinéma.example,other\n".encode("latin-1"), "UTF-8"),
    (b"host,category\na.example,other\n", "header"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a text file"),
    (b"PK\x03\x04\x14\x00\x06\x00", "spreadsheet workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "spreadsheet workbook"),
    (b"target,category,reference,note\n", "no data rows"),
])
def test_csv_file_level_errors(italy, data, fragment):
    report = import_csv(italy, data, actor=actor(italy))
    assert fragment in report.error
    assert not report.applied and not Listing.objects.exists()


def test_csv_oversized_file_is_refused(italy, settings):
    settings.SITEALERT = {**settings.SITEALERT, "IMPORT_MAX_BYTES": 100}
    report = import_csv(italy, CSV_OK.encode() * 5, actor=actor(italy))
    assert "limit" in report.error and not Listing.objects.exists()


def test_csv_row_errors_name_rows(italy):
    data = b"target,category,reference,note\nok.example,other,,\nbad host,other,,\nx.example,other,,,extra\n"
    report = import_csv(italy, data, actor=actor(italy))
    assert not report.applied
    rejected = {r.row: r.reason for r in report.rows if r.status == "rejected"}
    assert set(rejected) == {3, 4}
    assert "fields" in rejected[4]
    assert not Listing.objects.exists()


def test_carried_over_decisions_keep_their_date_but_never_a_future_one(italy):
    from datetime import timedelta

    from django.utils import timezone

    past = timezone.now() - timedelta(days=400)
    future = timezone.now() + timedelta(days=30)
    submit_entries(italy, [EntryInput(target="old.example", category="other", listed_at=past),
                           EntryInput(target="new.example", category="other", listed_at=future)], actor=actor(italy))
    assert abs(Listing.objects.get(target="old.example").listed_at - past) < timedelta(seconds=1)
    assert Listing.objects.get(target="new.example").listed_at <= timezone.now()
    assert abs(FeedEntry.objects.get(target="old.example").first_listed_at - past) < timedelta(seconds=1)


def test_a_rolled_back_submission_leaves_the_next_one_working(italy):
    """The staging tables live as long as the connection; a rollback must not leave them broken or full."""
    assert not submit_entries(italy, entries("a.example", "co.uk"), actor=actor(italy)).applied
    assert submit_entries(italy, entries("a.example"), actor=actor(italy), dry_run=True).counts["accepted"] == 1
    report = submit_entries(italy, entries("a.example", "b.example"), actor=actor(italy))
    assert report.applied and report.counts["accepted"] == 2
    again = submit_entries(italy, entries("c.example"), actor=actor(italy))
    assert again.counts["accepted"] == 1 and Listing.objects.count() == 3


def test_an_organization_with_listings_cannot_be_deleted(italy):
    """Listing.contributor has no database constraint (a million checks per upload); Django's
    PROTECT keeps the listings from losing their contributor."""
    from django.db.models import ProtectedError

    submit_entries(italy, entries("kept.example"), actor=actor(italy))
    with pytest.raises(ProtectedError):
        italy.delete()
    assert Listing.objects.get(target="kept.example").contributor == italy


def test_a_submission_for_an_organization_deleted_meanwhile_writes_nothing(italy, db):
    """What the foreign key used to refuse: listings for an organization whose row is gone."""
    from django.db import connection

    from sitealert.organizations.models import Organization

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM organizations_organization WHERE id = %s", [italy.pk])
    with pytest.raises(Organization.DoesNotExist):
        submit_entries(italy, entries("ghost.example"), actor=actor(italy))
    assert not Listing.objects.exists() and not FeedEntry.objects.exists()


def test_each_created_listing_points_to_its_event_and_updates_record_both_values(italy):
    ProtectedTarget.objects.create(target="guarded.example")
    submit_entries(italy, [EntryInput(target="new.example", category="cyberlocker", reference='Décision "7"\\2026'),
                           EntryInput(target="guarded.example", category="other")], actor=actor(italy))
    [created] = AuditEvent.objects.filter(action="listing.submit")
    assert created.detail["created"] == 2 and not created.items.exists()
    assert {(l.target, l.status, l.reference) for l in created.created_listings.all()} == {
        ("new.example", "active", 'Décision "7"\\2026'), ("guarded.example", "held", "")}

    submit_entries(italy, [EntryInput(target="new.example", category="other", reference='Décision "7"\\2026',
                                      note="private", review_after=date(2027, 3, 1))], actor=actor(italy))
    updated = AuditEvent.objects.filter(action="listing.submit").exclude(pk=created.pk).get()
    [item] = updated.items.all()
    assert item.object_repr == "new.example"
    assert item.detail == {"event": "updated", "fields": ["category", "note", "review_after"],
                           "category": "other", "review_after": "2027-03-01",
                           "was": {"category": "cyberlocker", "review_after": ""}}
    # An update never moves a listing to the event that changed it: it was created once.
    assert Listing.objects.get(target="new.example").creation_event == created


def test_while_writing_sees_the_final_statuses_in_a_thread_of_its_own(italy):
    import threading

    submit_entries(italy, entries("old.example"), actor=actor(italy))
    seen = []

    def task(rows):
        seen.append((threading.current_thread() is not threading.main_thread(),
                     [(r.target, r.status) for r in rows]))

    report = submit_entries(italy, entries("old.example", "new.example"), actor=actor(italy), while_writing=task)
    assert report.applied
    assert seen == [(True, [("old.example", "unchanged"), ("new.example", "accepted")])]
    # Nothing to write (a dry run, a rejected row): the task does not run.
    submit_entries(italy, entries("other.example"), actor=actor(italy), dry_run=True, while_writing=task)
    submit_entries(italy, entries("other.example", "co.uk"), actor=actor(italy), while_writing=task)
    assert len(seen) == 1


def test_what_while_writing_raises_is_raised_and_nothing_is_written(italy):
    def task(rows):
        raise RuntimeError("render failed")

    version = FeedState.objects.filter(pk=1).values_list("version", flat=True).first()
    with pytest.raises(RuntimeError, match="render failed"):
        submit_entries(italy, entries("new.example"), actor=actor(italy), while_writing=task)
    assert not Listing.objects.exists() and not FeedEntry.objects.exists()
    assert FeedState.objects.filter(pk=1).values_list("version", flat=True).first() == version
