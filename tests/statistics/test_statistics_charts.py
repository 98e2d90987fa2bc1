"""The SVG charts keep their text at its size whatever the width they are drawn at, keep every label
inside the drawing, and name countries in the reader's language."""

import re
from datetime import UTC, datetime

import pytest

from sitealert.statistics.charts import NARROW_TICKS, WIDE_TICKS, bar_chart, line_chart, shown_ticks, stacked_bars

MONTHS = [f"{2025 + i // 12}-{i % 12 + 1:02d}" for i in range(23)]
SERIES = [("Italy", list(range(23))), ("Korea, Republic of", list(range(0, 46, 2)))]


@pytest.mark.parametrize("draw", [line_chart, bar_chart])
def test_a_chart_is_not_scaled_so_its_text_keeps_its_size(draw):
    svg = str(draw("c", "Title", "Description", MONTHS, SERIES))
    root = svg.split(">", 1)[0]
    assert "viewBox" not in root and 'width="100%"' in root and 'font-size="12"' in root
    assert "font-size" not in svg.split(">", 1)[1].split("<ul", 1)[0]  # no smaller text anywhere inside


@pytest.mark.parametrize("draw", [line_chart, bar_chart])
def test_first_and_last_x_labels_are_anchored_inside_the_chart(draw):
    svg = str(draw("c", "Title", "Description", MONTHS, SERIES))
    ticks = re.findall(r'<text class="tick[^"]*" x="([\d.]+)%" y="\d+" text-anchor="(\w+)"[^>]*>([^<]+)<', svg)
    assert (ticks[0][1], ticks[0][2]) == ("start", MONTHS[0])
    assert (ticks[-1][1], ticks[-1][2]) == ("end", MONTHS[-1])
    assert all(0 <= float(x) <= 100 for x, _anchor, _label in ticks)


def test_a_narrow_chart_shows_fewer_x_labels():
    svg = str(line_chart("c", "Title", "Description", MONTHS, SERIES))
    classes = re.findall(r'<text class="(tick[^"]*)"', svg)
    wide = [c for c in classes if "tick-narrow" not in c]
    narrow = [c for c in classes if "tick-wide" not in c]
    assert len(wide) <= WIDE_TICKS and len(narrow) <= NARROW_TICKS


@pytest.mark.parametrize("count", [1, 2, 4, 5, 11, 23, 24, 60])
def test_shown_ticks_always_include_both_ends_and_keep_their_distance(count):
    for limit in (NARROW_TICKS, WIDE_TICKS):
        chosen = shown_ticks(count, limit)
        assert chosen[0] == 0 and chosen[-1] == count - 1 and len(chosen) <= limit
        gaps = [b - a for a, b in zip(chosen, chosen[1:])]
        assert not gaps or min(gaps) >= max(gaps) / 2


def test_the_legend_is_text_of_the_page():
    html = str(line_chart("c", "Title", "Description", MONTHS, SERIES))
    legend = html.split("</svg>", 1)[1]
    assert legend.startswith('<ul class="chart-legend">') and "Korea, Republic of</li>" in legend


def test_review_bars_write_each_name_above_its_bar():
    svg = str(stacked_bars("r", "Title", "Description", ["Autorità per le Garanzie nelle Comunicazioni"],
                           [("Upheld", [2]), ("Removed", [1]), ("Awaiting an answer", [0])]))
    assert "viewBox" not in svg and "Autorità per le Garanzie nelle Comunicazioni</text>" in svg


@pytest.mark.django_db
def test_countries_are_named_in_the_readers_language(client, italy, korea, list_targets):
    from sitealert.listings.models import Listing

    list_targets(italy, ["a.test"])
    list_targets(korea, ["b.test"])
    Listing.objects.filter(target="a.test").update(listed_at=datetime(2025, 1, 5, tzinfo=UTC))
    html = client.get("/statistics/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    header = html.split('id="table-listings-by-country"', 1)[1].split("</thead>", 1)[0]
    assert ">Italie<" in header and ">IT<" not in header
    legend = html.split('<ul class="chart-legend">', 1)[1].split("</ul>", 1)[0]
    assert "Italie</li>" in legend and ">IT<" not in legend
