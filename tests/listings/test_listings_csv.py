"""CSV parsing: a file without quotes takes a fast path that must read exactly as the csv module does."""

import csv
import io

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitealert.listings import services

FIELD = st.text(alphabet="ab.-_ \t,\r\n", max_size=6)
HEADERS = ["target,category,reference,note", "target,category", "category,target,note", "Target , CATEGORY",
           "target,category,oops", ""]


def parsed(text, fast):
    rows = services._PlainRows(text) if fast else csv.reader(io.StringIO(text, newline=""), strict=True)
    original = services._csv_rows
    services._csv_rows = lambda _text: rows
    try:
        entries, rejected, error = services.parse_csv(text)
    finally:
        services._csv_rows = original
    return ([(e.target, e.category, e.reference, e.note, e.row) for e in entries],
            [(r.row, r.input, r.reason) for r in rejected], error)


@given(st.sampled_from(HEADERS), st.sampled_from(["\n", "\r\n", "\r"]), st.lists(FIELD, max_size=8))
@example("target,category", "\n", ["a.example,other", "", "b.example,other,extra", "  ", "c.example"])
@example("target,category", "\r\n", ["a.example,other\r\n"])
@settings(max_examples=500)
def test_the_plain_path_reads_as_the_csv_module(header, newline, lines):
    text = header + newline + newline.join(lines)
    assert parsed(text, fast=True) == parsed(text, fast=False)


def test_quotes_take_the_csv_module():
    assert isinstance(services._csv_rows('target,category\n"a.example",other\n'), type(csv.reader([])))
    assert isinstance(services._csv_rows("target,category\na.example,other\n"), services._PlainRows)
