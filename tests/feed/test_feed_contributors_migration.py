"""The upgrade across issue 16 (federation) on an installation that has listings: feed 0004 adds
the contributors of each entry and fills them as the change-log writer computes them, so the first
refresh after the upgrade writes no change. benchmarks/bench_migrations.py times the same upgrade
at ten million listings."""

import importlib

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from sitealert.core.actors import Actor
from sitealert.feed.models import Change, FeedEntry, FeedState
from sitealert.listings.changelog import refresh_targets
from sitealert.listings.models import ProtectedTarget
from sitealert.listings.services import EntryInput, remove_listings, submit_entries
from sitealert.organizations.services import create_organization

# The newest migration of each app that issue 16 left as it was.
BEFORE_ISSUE_16 = [
    ("feed", "0003_feedentry_code_point_covering_key"),
    ("listings", "0001_initial"),
    ("organizations", "0001_initial"),
    ("federation", None),
]


def columns(model):
    with connection.cursor() as cursor:
        return {c.name for c in connection.introspection.get_table_description(cursor, model._meta.db_table)}


def listed(org, targets, category):
    report = submit_entries(org, [EntryInput(target=t, category=category) for t in targets],
                            actor=Actor(organization=org))
    assert report.applied, report.as_dict()


@pytest.mark.django_db(transaction=True)  # migrations change the schema: no test transaction around them
def test_the_upgrade_fills_every_entry_as_the_writer_does(italy, korea, monkeypatch):
    # An authority whose id has two digits at least: as strings, "12:…" sorts before "9:…".
    late = create_organization(kind="contributor", name="Office 1", country="FR", actor=Actor(via="cli"))
    while late.pk < 10:
        late = create_organization(kind="contributor", name=f"Office {late.pk}", country="FR",
                                   actor=Actor(via="cli"))
    listed(italy, [f"n{i}.example" for i in range(8)], "other")
    listed(korea, ["n0.example", "n1.example", "n2.example", "only-korea.example"], "cyberlocker")
    listed(late, ["n0.example", "n2.example", "n3.example"], "streaming-video")
    remove_listings(korea, ["n1.example"], "annulled", actor=Actor(organization=korea))
    ProtectedTarget.objects.create(target="held.example")
    listed(korea, ["held.example"], "other")  # held for review: no entry
    written = {e.target: e.contributors for e in FeedEntry.objects.all()}
    assert len(written["n0.example"].split(",")) == 3 and "held.example" not in written
    # The shared targets are read a few rows at a time, so batches end inside a target's rows.
    monkeypatch.setattr(importlib.import_module("sitealert.feed.migrations.0004_contributors"), "BATCH", 2)

    try:
        MigrationExecutor(connection).migrate(BEFORE_ISSUE_16)
        assert "contributors" not in columns(FeedEntry) | columns(Change)
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert {e.target: e.contributors for e in FeedEntry.objects.all()} == written
    # The change log's rows from before the upgrade never knew who listed their targets.
    assert set(Change.objects.values_list("contributors", flat=True)) == {""}
    version = FeedState.objects.get().version
    with transaction.atomic():
        assert refresh_targets(sorted(written) + ["held.example"]) == version
