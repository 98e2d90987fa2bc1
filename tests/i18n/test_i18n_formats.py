"""Dates at the end of a sentence: no language may end it with two full stops."""

import re
from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import translation
from django.utils.formats import get_format


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_a_date_format_never_ends_with_a_full_stop(language):
    with translation.override(language):
        rendered = Template('{{ d|date:"DATE_FORMAT" }}|{{ d|date:"DATETIME_FORMAT" }}').render(
            Context({"d": datetime(2026, 12, 3, 9, 30, tzinfo=UTC)}))
    for part in rendered.split("|"):
        assert part and not part.endswith("."), (language, part)


def test_russian_dates_read_as_before_without_the_abbreviation():
    with translation.override("ru"):
        assert Template('{{ d|date:"DATE_FORMAT" }}').render(Context({"d": date(2026, 12, 3)})) == "3 декабря 2026"


TIME_OF_DAY = set("aAfgGhHiPsu")  # Django's format characters for a time


def time_part(pattern):
    """The time format characters of a Django date pattern (a backslash escapes a literal letter)."""
    return [ch for ch in re.sub(r"\\.", "", pattern) if ch in TIME_OF_DAY]


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_a_date_time_is_the_date_then_a_24_hour_time(language):
    """A date-time reads like the date beside it, in every language (Arabic had the English pattern),
    with the time on the 24-hour clock."""
    with translation.override(language):
        for date_format, datetime_format in (("DATE_FORMAT", "DATETIME_FORMAT"),
                                             ("SHORT_DATE_FORMAT", "SHORT_DATETIME_FORMAT")):
            date_pattern, datetime_pattern = get_format(date_format), get_format(datetime_format)
            assert datetime_pattern.startswith(date_pattern), (language, date_pattern, datetime_pattern)
            assert set(time_part(datetime_pattern)) <= {"G", "H", "i"}, (language, datetime_pattern)
        assert set(time_part(get_format("TIME_FORMAT"))) <= {"G", "H", "i"}, language


def test_an_arabic_date_time_uses_the_arabic_date_pattern():
    when = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    with translation.override("ar"):
        rendered = Template('{{ d|date:"DATE_FORMAT" }}|{{ d|date:"DATETIME_FORMAT" }}').render(Context({"d": when}))
    day, moment = rendered.split("|")
    assert day == "3 ديسمبر، 2026"
    assert moment == "3 ديسمبر، 2026، 09:30"
