"""The migrations describe the models: a model change without its migration fails here, not on a
production `sitealert migrate`, as NetBox's CI runs `makemigrations --check`."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from sitealert.feed.models import FeedEntry


@pytest.mark.django_db  # makemigrations checks the database's migration history too
def test_models_and_migrations_agree():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail("the models differ from their migrations; write the migration with\n"
                    "  DJANGO_SETTINGS_MODULE=sitealert.settings .venv/bin/python -m django makemigrations\n"
                    + out.getvalue(), pytrace=False)


@pytest.mark.django_db
def test_feed_entries_have_no_prefix_search_index():
    """A varchar primary key gets a second, varchar_pattern_ops index on PostgreSQL; nothing
    searches feed entries by prefix, and keeping it up cost every upload a second index insert
    per new target. Only the primary key indexes the entries."""
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, FeedEntry._meta.db_table)
    indexes = sorted(name for name, c in constraints.items() if c["index"] or c["primary_key"])
    assert [constraints[name]["primary_key"] for name in indexes] == [True], indexes
