"""Dates at the end of a sentence: no language may end it with two full stops."""

from datetime import UTC, date, datetime

import pytest
from django.conf import settings
from django.template import Context, Template
from django.utils import translation


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
