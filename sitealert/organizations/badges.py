"""The embeddable member badge: a small SVG in two segments (installation, member status) that links
to the member's public verification page. Presentation attributes only, so the site's CSP applies."""

import unicodedata

from django.utils.html import escape

HEIGHT = 22
PADDING = 8
COLOURS = {True: "#1d6b37", False: "#a4231c"}
LABEL_COLOUR = "#08457f"
MAX_CHARS = 64


def text_width(text):
    """Approximate width in pixels of `text` at 11px: wide (CJK) characters take about twice the room."""
    width = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            width += 11.5
        elif unicodedata.combining(ch):
            continue
        elif ch in "il.,:;|!'":
            width += 3.5
        elif ch.isupper() or ch in "mwMW@%":
            width += 7.5
        else:
            width += 6.0
    return round(width)


def shorten(text, limit=MAX_CHARS):
    return text if len(text) <= limit else text[:limit - 1] + "…"


def badge_svg(*, label, status, valid, link, title):
    """SVG markup: `label` on the left, `status` on a green (valid) or red (not valid) segment."""
    label, status = shorten(label), shorten(status)
    left = text_width(label) + 2 * PADDING
    right = text_width(status) + 2 * PADDING
    width = left + right
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" '
        f'height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<a href="{escape(link)}" xlink:href="{escape(link)}" target="_top">'
        f'<rect width="{width}" height="{HEIGHT}" rx="4" fill="{COLOURS[valid]}"/>'
        f'<rect width="{left}" height="{HEIGHT}" rx="4" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left - 4}" width="4" height="{HEIGHT}" fill="{LABEL_COLOUR}"/>'
        f'<g fill="#ffffff" text-anchor="middle" font-family="Verdana, DejaVu Sans, Noto Sans, sans-serif" '
        f'font-size="11">'
        f'<text x="{left / 2:.1f}" y="15">{escape(label)}</text>'
        f'<text x="{left + right / 2:.1f}" y="15">{escape(status)}</text>'
        f"</g></a></svg>"
    )
