"""CSV parsing: a file without quotes takes a fast path that must read exactly as the csv module does."""

import csv
import io

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sitealert.listings import csv_import

FIELD = st.text(alphabet="ab.-_ \t,;\r\n", max_size=6)
HEADERS = ["target,category,reference,note", "target,category", "category,target,note", "Target , CATEGORY",
           "target,category,oops", ""]


def parsed(text, fast, separator=","):
    rows = (csv_import._PlainRows(text, separator) if fast
            else csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True))
    original = csv_import._csv_rows
    csv_import._csv_rows = lambda _text, _separator: rows
    try:
        entries, rejected, error = csv_import.parse_csv(text)
    finally:
        csv_import._csv_rows = original
    return ([(e.target, e.category, e.reference, e.note, e.row) for e in entries],
            [(r.row, r.input, r.reason) for r in rejected], error)


@given(st.sampled_from(HEADERS), st.sampled_from(["\n", "\r\n", "\r"]), st.lists(FIELD, max_size=8),
       st.sampled_from(csv_import._SEPARATORS))
@example("target,category", "\n", ["a.example,other", "", "b.example,other,extra", "  ", "c.example"], ",")
@example("target,category", "\r\n", ["a.example,other\r\n"], ",")
@example("target,category", "\n", ["a.example;other", "b.example;other;x,y"], ";")
@settings(max_examples=500)
def test_the_plain_path_reads_as_the_csv_module(header, newline, lines, separator):
    text = header.replace(",", separator) + newline + newline.join(lines)
    assert parsed(text, fast=True, separator=separator) == parsed(text, fast=False, separator=separator)


@pytest.mark.parametrize(("text", "separator"), [
    ("target,category\na.example;b,other\n", ","),
    ("target;category;reference;note\na.example;other;R,1;\n", ";"),
    ('"target";"category"\na.example;other\n', ";"),
    ("target\tcategory\na.example\tother\n", "\t"),
    ("films;music\n", ","),  # no known column: read as comma-separated, and refused for its header
    ("target;category;note\ra.example;other;x, y\r", ";"),  # Mac line ends: the header is the first line
])
def test_the_separator_is_read_from_the_header(text, separator):
    assert csv_import._separator(text) == separator


def test_a_semicolon_file_imports_with_commas_inside_fields():
    entries, rejected, error = csv_import.parse_csv("Target;Category;Reference\na.example;other;DEC-1, art. 2\n")
    assert error is None and not rejected
    assert [(e.target, e.category, e.reference, e.row) for e in entries] == [("a.example", "other", "DEC-1, art. 2", 2)]


@pytest.mark.parametrize(("text", "fragment"), [
    ('target,category\nqa.example,other,"QA-Q,\nb.example,other\n', "Row 2 opens a field with a double quote"),
    ('target,category\na.example,other\nb.example,"x"y\n', "Row 3 has a double quote"),
    ('target,category,note\na.example,other,"two\nlines"\nb.example,"x"y,\n', "Row 3 has a double quote"),
    ("QA-N1.example,other\n", "Row 1 looks like a listing ('QA-N1.example'), not the header row"),
    ("Host,Category\na.example,other\n", "unknown column(s): 'Host'"),
    ('"target,category\na.example,other\n', "Row 1 opens a field with a double quote"),
])
def test_unreadable_files_say_what_to_fix(text, fragment):
    entries, rejected, error = csv_import.parse_csv(text)
    assert fragment in error and not entries and not rejected


def test_rows_are_counted_as_a_spreadsheet_shows_them():
    entries, rejected, error = csv_import.parse_csv(
        'target,category,note\na.example,other,"two\nlines"\nbad host,other,\n')
    assert [e.row for e in entries] == [2, 3]


def test_quotes_take_the_csv_module():
    assert isinstance(csv_import._csv_rows('target,category\n"a.example",other\n', ","), type(csv.reader([])))
    assert isinstance(csv_import._csv_rows("target,category\na.example,other\n", ","), csv_import._PlainRows)


def test_a_rejected_row_is_echoed_with_its_own_separator():
    entries, rejected, error = csv_import.parse_csv("target;category\na.example;other;extra\n")
    assert [r.input for r in rejected] == ["a.example;other;extra"]


@pytest.mark.parametrize("quoted", [False, True])
def test_rows_past_the_limit_are_refused_as_they_are_read(quoted):
    """A file over the row limit is refused at the first row too many: its rows are never all built."""
    import tracemalloc

    row = '"s{}.example",other,,\n' if quoted else "s{}.example,other,,\n"
    text = "target,category,reference,note\n" + "".join(row.format(i) for i in range(200_000))
    tracemalloc.start()
    try:
        entries, rejected, error = csv_import.parse_csv(text, max_rows=1000)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (entries, rejected) == ([], [])
    assert error == "The file has more than 1000 rows. Split it into smaller files."
    # A thousand rows' worth, not 200,000 (~40 MB); the csv module's path also copies the text into
    # its StringIO, as it always did.
    assert peak < (4 * len(text) if quoted else 0) + 2 * 1024 * 1024, peak
    entries, _rejected, error = csv_import.parse_csv(text[:text.index("s1000.")].rstrip('"'), max_rows=1000)
    assert error is None and len(entries) == 1000
