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


def badge_svg(*, label, status, valid, link, title, rtl=False):
    """SVG markup: `label` first, then `status` on a green (valid) or red (not valid) segment.

    Read right to left (`rtl`, for Arabic), the label segment is on the right and each text is laid
    out right to left, so "مستخدم معتمد: AdCo" keeps its words in order."""
    label, status = shorten(label), shorten(status)
    label_w = text_width(label) + 2 * PADDING
    status_w = text_width(status) + 2 * PADDING
    width = label_w + status_w
    label_x, status_x = (status_w, 0) if rtl else (0, label_w)
    seam = label_x if rtl else label_w - 4  # squares the rounded corner where the segments meet
    direction = "rtl" if rtl else "ltr"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" '
        f'height="{HEIGHT}" viewBox="0 0 {width} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'direction="{direction}">'
        f"<title>{escape(title)}</title>"
        f'<a href="{escape(link)}" xlink:href="{escape(link)}" target="_top">'
        f'<rect width="{width}" height="{HEIGHT}" rx="4" fill="{COLOURS[valid]}"/>'
        f'<rect x="{label_x}" width="{label_w}" height="{HEIGHT}" rx="4" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{seam}" width="4" height="{HEIGHT}" fill="{LABEL_COLOUR}"/>'
        f'<g fill="#ffffff" text-anchor="middle" direction="{direction}" '
        f'font-family="Verdana, DejaVu Sans, Noto Sans, sans-serif" font-size="11">'
        f'<text x="{label_x + label_w / 2:.1f}" y="15">{escape(label)}</text>'
        f'<text x="{status_x + status_w / 2:.1f}" y="15">{escape(status)}</text>'
        f"</g></a></svg>"
    )
