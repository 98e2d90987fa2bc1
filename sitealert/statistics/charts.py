"""Charts rendered on the server as SVG: no script, no CDN, and no inline style (the site's
Content-Security-Policy forbids it), only presentation attributes.

A chart stays legible at any width: the SVG has no viewBox, so nothing is scaled. Text is drawn at
its size in CSS pixels; horizontal positions are percentages of the chart's width and vertical ones
pixels, so a phone gets a narrower drawing, not smaller letters. The x-axis labels are thinned on a
narrow chart (public.css hides `.tick-wide` there), the first and last are anchored at the edges so
neither is cut, and the legend is HTML under the drawing, where long country names wrap.

Each chart carries a <title> and <desc> and sits beside a table with the same numbers, which is
what screen readers and keyboard users read.
"""

import math

from django.utils.html import escape
from django.utils.safestring import mark_safe

# Okabe–Ito colours (distinguishable with colour-vision deficiencies) and dash patterns, so lines
# differ by more than colour.
PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#6b6b6b", "#000000"]
DASHES = ["", "7 3", "2 3", "9 3 2 3"]
FONT_SIZE = 12  # CSS pixels, whatever the chart's width
FONT = (f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Noto Sans, sans-serif" '
        f'font-size="{FONT_SIZE}"')
MUTED, INK, GRID = "#5a6472", "#1c2430", "#d6dce4"
HALO = 'stroke="#ffffff" stroke-width="3" paint-order="stroke" stroke-linejoin="round"'
WIDE_TICKS, NARROW_TICKS = 10, 4  # x labels at most, on a wide and on a narrow chart
PLOT_START, PLOT_END = 1.5, 98.5  # percent of the width: room for the dots at both ends


def nice_scale(maximum, ticks=5):
    """(top, step): a round upper bound and a whole-number tick step for counts up to `maximum`."""
    if maximum <= 0:
        return ticks - 1, 1
    raw = maximum / (ticks - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, math.ceil(next(f * magnitude for f in (1, 2, 5, 10) if f * magnitude >= raw)))
    return step * math.ceil(maximum / step), step


def number(value):
    return f"{value:,}".replace(",", "\u202f") if isinstance(value, int) else f"{value:g}"


def pct(value):
    return f"{value:.2f}%"


def shown_ticks(count, limit):
    """Indexes of at most `limit` evenly spaced labels out of `count`, always the first and the last."""
    if count <= limit:
        return list(range(count))
    every = math.ceil((count - 1) / (limit - 1))
    chosen = list(range(0, count - 1, every))
    if count - 1 - chosen[-1] < every / 2 and len(chosen) > 1:
        chosen.pop()  # too close to the last label, which is always shown
    return chosen + [count - 1]


def _open(chart_id, title, desc, height):
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="100%" height="{height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" direction="ltr" {FONT}>',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="100%" height="{height}" fill="#ffffff"/>',
    ]


def _close(parts, legend):
    parts.append("</svg>")
    return mark_safe("".join(parts) + legend)


def _value_grid(parts, top_value, step, top, plot_h):
    """Horizontal grid lines, each with its value written just above it at the start of the chart."""
    value = 0
    while value <= top_value + 1e-9:
        y = top + plot_h - value / top_value * plot_h
        parts.append(f'<line x1="0" y1="{y:.1f}" x2="100%" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="2" y="{y - 4:.1f}" fill="{MUTED}" {HALO}>{number(value)}</text>')
        value += step


def _anchor(i, count):
    return "start" if i == 0 and count > 1 else "end" if i == count - 1 and count > 1 else "middle"


def _x_labels(parts, labels, xs, y, edges):
    """Labels under the x axis; `edges` (start, end) are where the first and last are anchored."""
    n = len(labels)
    wide, narrow = set(shown_ticks(n, WIDE_TICKS)), set(shown_ticks(n, NARROW_TICKS))
    for i, (label, x) in enumerate(zip(labels, xs)):
        if i not in wide and i not in narrow:
            continue
        anchor = _anchor(i, n)
        at = edges[0] if anchor == "start" else edges[1] if anchor == "end" else x
        classes = "tick" + ("" if i in narrow else " tick-wide") + ("" if i in wide else " tick-narrow")
        parts.append(f'<text class="{classes}" x="{pct(at)}" y="{y}" text-anchor="{anchor}" fill="{MUTED}">'
                     f'{escape(label)}</text>')


def _stroke(i, width):
    dash = DASHES[i % len(DASHES)]
    return (f'stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="{width}"'
            + (f' stroke-dasharray="{dash}"' if dash else ""))


def _legend(names, swatch):
    """The legend as HTML: real text in the page's size, wrapping like the page."""
    if len(names) < 2:
        return ""
    items = "".join(f'<li><svg width="28" height="12" aria-hidden="true" focusable="false">{swatch(i)}</svg>'
                    f"{escape(name)}</li>" for i, name in enumerate(names))
    return f'<ul class="chart-legend">{items}</ul>'


def _line_swatch(i):
    return f'<line x1="2" y1="6" x2="26" y2="6" {_stroke(i, 3)}/>'


def _box_swatch(i):
    return f'<rect x="8" y="0" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'


def _time_frame(series, height):
    top, bottom = 20, 26
    plot_h = height - top - bottom
    top_value, step = nice_scale(max((max(v) for _n, v in series if v), default=0))
    return top, plot_h, top_value, step


def line_chart(chart_id, title, desc, labels, series, height=260):
    """One line per (name, values) series over the x `labels` (months)."""
    top, plot_h, top_value, step = _time_frame(series, height)
    n = len(labels)
    span = PLOT_END - PLOT_START
    xs = [PLOT_START + (span * i / (n - 1) if n > 1 else span / 2) for i in range(n)]
    parts = _open(chart_id, title, desc, height)
    _value_grid(parts, top_value, step, top, plot_h)
    _x_labels(parts, labels, xs, height - 8, (0, 100))

    def y_of(v):
        return top + plot_h - v / top_value * plot_h

    for i, (name, values) in enumerate(series):
        # Segments, not a polyline: a polyline's points cannot be percentages of the width.
        parts.append(f'<g fill="none" stroke-linecap="round" {_stroke(i, 2.5)}>')
        parts.extend(f'<line x1="{pct(x1)}" y1="{y_of(v1):.1f}" x2="{pct(x2)}" y2="{y_of(v2):.1f}"/>'
                     for x1, v1, x2, v2 in zip(xs, values, xs[1:], values[1:]))
        parts.append("</g>")
        if n <= 36:
            parts.extend(f'<circle cx="{pct(x)}" cy="{y_of(v):.1f}" r="3" fill="{PALETTE[i % len(PALETTE)]}">'
                         f'<title>{escape(name)}, {escape(label)}: {number(v)}</title></circle>'
                         for x, label, v in zip(xs, labels, values))
    return _close(parts, _legend([name for name, _v in series], _line_swatch))


def bar_chart(chart_id, title, desc, labels, series, height=260):
    """Grouped vertical bars: for each x label, one bar per (name, values) series."""
    top, plot_h, top_value, step = _time_frame(series, height)
    n = max(1, len(labels))
    group = (PLOT_END - PLOT_START) / n
    bar = group * 0.8 / max(1, len(series))
    xs = [PLOT_START + group * (i + 0.5) for i in range(len(labels))]
    parts = _open(chart_id, title, desc, height)
    _value_grid(parts, top_value, step, top, plot_h)
    _x_labels(parts, labels, xs, height - 8, (PLOT_START, PLOT_END))
    for s, (name, values) in enumerate(series):
        for i, (label, v) in enumerate(zip(labels, values)):
            h = v / top_value * plot_h
            x = PLOT_START + group * i + group * 0.1 + bar * s
            parts.append(f'<rect x="{pct(x)}" y="{top + plot_h - h:.1f}" width="{pct(bar * 0.92)}" '
                         f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                         f'<title>{escape(name)}, {escape(label)}: {number(v)}</title></rect>')
    return _close(parts, _legend([name for name, _v in series], _box_swatch))


def stacked_bars(chart_id, title, desc, labels, series, row=44):
    """Horizontal bars, one per label (e.g. a contributor), stacked from the (name, values) series.
    Each label is written above its bar, across the whole width, so a narrow chart keeps it whole."""
    top = 22
    height = top + row * len(labels) + 4
    totals = [sum(column) for column in zip(*(v for _n, v in series))] or [0]
    top_value, step = nice_scale(max(totals))
    span = PLOT_END - PLOT_START
    parts = _open(chart_id, title, desc, height)
    value, ticks = 0, []
    while value <= top_value + 1e-9:
        ticks.append(value)
        value += step
    for t, value in enumerate(ticks):
        x = PLOT_START + value / top_value * span
        anchor = _anchor(t, len(ticks))
        at = 0 if anchor == "start" else 100 if anchor == "end" else x
        parts.append(f'<line x1="{pct(x)}" y1="{top - 4}" x2="{pct(x)}" y2="{height - 4}" stroke="{GRID}"/>')
        parts.append(f'<text x="{pct(at)}" y="{top - 8}" text-anchor="{anchor}" fill="{MUTED}">'
                     f"{number(value)}</text>")
    for i, label in enumerate(labels):
        y = top + row * i
        short = label if len(label) <= 48 else label[:47] + "…"
        parts.append(f'<text x="{pct(PLOT_START)}" y="{y + 17}" fill="{INK}" {HALO}>'
                     f'<title>{escape(label)}</title>{escape(short)}</text>')
        x = PLOT_START
        for s, (name, values) in enumerate(series):
            w = values[i] / top_value * span
            if w > 0:
                parts.append(f'<rect x="{pct(x)}" y="{y + 23}" width="{pct(w)}" height="16" '
                             f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)} — {escape(name)}: '
                             f'{number(values[i])}</title></rect>')
            x += w
    return _close(parts, _legend([name for name, _v in series], _box_swatch))
