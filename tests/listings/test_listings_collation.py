"""Targets in code-point order on both databases: the listings' and the probe targets' columns take
collation "C" on PostgreSQL (listings 0004, monitoring 0002), as the feed entries' do, and SQLite
compares text by code point already."""

import pytest
from django.db import connection

from sitealert.listings.models import Listing
from sitealert.listings.services import EntryInput, submit_entries
from sitealert.monitoring.models import ProbeTarget
from sitealert.monitoring.services import monitored_listings
from tests.conftest import actor

pytestmark = pytest.mark.django_db

# "-" < "." < digits < letters by code point; most locales ignore the punctuation and order
# "ab.example" between "a.example" and "a-c.example".
TARGETS = ["a-c.example", "a.example", "a0.example", "ab.example", "android:com.a_b", "android:com.ab"]


def _collation(model):
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
                       "WHERE a.attrelid = CAST(%s AS regclass) AND a.attname = 'target'", [model._meta.db_table])
        return cursor.fetchone()[0]


def test_a_contributors_listings_come_in_code_point_order(italy):
    report = submit_entries(italy, [EntryInput(target=t, category="other") for t in reversed(TARGETS)],
                            actor=actor(italy))
    assert report.applied, report.summary
    assert list(Listing.objects.filter(contributor=italy).order_by("target").values_list("target", flat=True)) \
        == sorted(TARGETS) == TARGETS
    if connection.vendor == "postgresql":
        assert _collation(Listing) == _collation(ProbeTarget) == "C"


def test_a_listings_monitoring_status_is_looked_up_by_index(italy):
    """Compared with a listing's target, a probe target column of another collation could not use
    its own index: each listing of a contributor's page would scan every probe target."""
    submit_entries(italy, [EntryInput(target=t, category="other") for t in TARGETS[:3]], actor=actor(italy))
    ProbeTarget.objects.bulk_create([ProbeTarget(target=t) for t in TARGETS[:3]])
    listings = monitored_listings(italy)
    assert [listing.monitor_status for listing in listings] == ["unknown"] * 3
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = listings.explain()
        assert "Seq Scan on monitoring_probetarget" not in plan, plan
