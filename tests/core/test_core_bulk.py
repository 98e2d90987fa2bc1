"""bulk.insert_rows writes exactly the values it is given, on both databases (COPY on PostgreSQL)."""

import pytest
from django.db import connection, transaction

from sitealert.core import bulk

pytestmark = pytest.mark.django_db

TRICKY = ["tab\there", "new\nline", "carriage\rreturn", "back\\slash", "\\N", "crlf\r\n", "", "ünïcødé 漢字",
          "\t", "\n", "\\"]


def _round_trip(rows):
    with transaction.atomic(), bulk.temporary_table("test_bulk", ["k text PRIMARY KEY", "a text", "b text"]) as t:
        bulk.insert_rows("test_bulk", ["k", "a", "b"], rows)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT k, a, b FROM {t} ORDER BY k")
            return [tuple(r) for r in cursor.fetchall()]


def test_plain_strings_arrive_unchanged():
    rows = [(f"{i:06d}", f"host{i}.example", "streaming-video") for i in range(25_000)]  # more than one COPY chunk
    assert _round_trip(rows) == rows


@pytest.mark.parametrize("value", TRICKY, ids=repr)
def test_a_value_that_needs_an_escape_arrives_unchanged(value):
    rows = [("1", "plain", "plain"), ("2", value, "plain"), ("3", "plain", value)]
    assert _round_trip(rows) == rows


def test_none_is_null_and_strings_need_not_be_all():
    rows = [("1", None, "x"), ("2", "y", None)]
    assert _round_trip(rows) == rows


def test_the_plain_path_refuses_text_whose_separators_do_not_add_up():
    """A tab inside a string value makes the joined text ambiguous: the escaping path must run."""
    rows = [("a\tb", "c"), ("d", "e")]
    assert bulk._copy_text(rows) == "a\\tb\tc\nd\te\n"
    assert bulk._copy_text([("a", "b"), ("c", "d")]) == "a\tb\nc\td\n"
