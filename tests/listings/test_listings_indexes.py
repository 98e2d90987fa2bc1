"""The listings' indexes, as Listing.Meta and ContributorIndex explain them, on the database in use."""

import pytest
from django.db import IntegrityError, connection, transaction

from sitealert.listings.models import Listing
from sitealert.listings.services import EntryInput, submit_entries
from tests.conftest import actor

pytestmark = pytest.mark.django_db


def _indexes():
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, Listing._meta.db_table)


def test_one_unique_index_by_target_then_contributor():
    constraints = _indexes()
    unique = [c["columns"] for c in constraints.values() if c["unique"] and not c["primary_key"]]
    assert unique == [["target", "contributor_id"]]
    # Every lookup by target has it: no second B-tree over the targets to insert into.
    by_target = [c["columns"] for c in constraints.values()
                 if (c["index"] or c["unique"]) and c["columns"][:1] == ["target"]]
    assert by_target == [["target", "contributor_id"]]


def test_contributor_index_carries_the_target_only_where_the_planner_has_no_statistics(italy):
    columns = _indexes()["listing_contributor"]["columns"]
    if connection.vendor == "postgresql":
        assert columns == ["contributor_id"]
    else:
        # SQLite reads a contributor's page in target order from it, without sorting the list.
        assert columns == ["contributor_id", "target"]
        plan = Listing.objects.filter(contributor=italy).order_by("target")[:50].explain()
        assert "listing_contributor" in plan
        assert "TEMP B-TREE" not in plan


def test_one_listing_per_contributor_and_target(italy, korea):
    submit_entries(italy, [EntryInput(target="films.example", category="streaming-video")], actor=actor(italy))
    submit_entries(korea, [EntryInput(target="films.example", category="streaming-video")], actor=actor(korea))
    listing = Listing.objects.get(contributor=italy)
    with pytest.raises(IntegrityError), transaction.atomic():
        Listing.objects.create(target=listing.target, kind=listing.kind, contributor=italy, category="other")
    assert Listing.objects.filter(target="films.example").count() == 2
