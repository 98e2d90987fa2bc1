"""The member badge reads in the reader's direction: in Arabic the installation's name is on the
right and each text is laid out right to left."""

import re

import pytest

from sitealert.organizations.badges import badge_svg


def layout(svg):
    """(x of the label segment, x of the status text, x of the label text, direction of the texts)."""
    rects = re.findall(r'<rect (?:x="([\d.]+)" )?width="([\d.]+)" height="22" rx="4" fill="(#[0-9a-f]+)"/>', svg)
    label_x = next(float(x or 0) for x, _w, fill in rects if fill == "#08457f")
    texts = [float(x) for x in re.findall(r'<text x="([\d.]+)"', svg)]
    direction = re.search(r'<g [^>]*direction="(\w+)"', svg).group(1)
    return label_x, texts[0], texts[1], direction


ARGS = {"label": "SiteAlert", "status": "مستخدم معتمد: AdCo Exchange", "valid": True,
        "link": "https://sitealert.example/members/adco/", "title": "AdCo"}


def test_left_to_right_badge_puts_the_label_first_on_the_left():
    label_segment, label_text, status_text, direction = layout(badge_svg(**ARGS))
    assert label_segment == 0 and label_text < status_text and direction == "ltr"


def test_right_to_left_badge_puts_the_label_first_on_the_right():
    svg = badge_svg(**ARGS, rtl=True)
    label_segment, label_text, status_text, direction = layout(svg)
    assert label_segment > 0 and label_text > status_text and direction == "rtl"
    assert 'direction="rtl"' in svg.split(">", 1)[0]
    assert badge_svg(**ARGS).split('width="', 1)[1][:6] == svg.split('width="', 1)[1][:6]  # same size


@pytest.mark.django_db
def test_the_badge_follows_the_readers_language(client, adco):
    arabic = client.get(f"/members/{adco.slug}/badge.svg", HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    english = client.get(f"/members/{adco.slug}/badge.svg", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert layout(arabic)[3] == "rtl" and layout(english)[3] == "ltr"
