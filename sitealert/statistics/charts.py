"""Charts rendered on the server as SVG: no script, no CDN, and no inline style (the site's
Content-Security-Policy forbids it), only presentation attributes.

Each chart carries a <title> and <desc> and is meant to sit beside a table with the same numbers,
which is what screen readers and keyboard users read.
"""

import math

from django.utils.html import escape
from django.utils.safestring import mark_safe

# Okabe–Ito colours (distinguishable with colour-vision deficiencies) and dash patterns, so lines
# differ by more than colour.
PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#6b6b6b", "#000000"]
DASHES = ["", "7 3", "2 3", "9 3 2 3"]
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, Noto Sans, sans-serif" font-size="12"'
LEGEND_COLUMNS = 3
LEGEND_ROW = 22


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


def _open(chart_id, title, desc, width, height):
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" direction="ltr" {FONT}>',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]


def _y_axis(parts, top_value, step, left, top, plot_w, plot_h):
    value = 0
    while value <= top_value + 1e-9:
        y = top + plot_h - value / top_value * plot_h
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#d6dce4" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5a6472">{number(value)}</text>')
        value += step


def _x_labels(parts, labels, xs, y):
    every = max(1, math.ceil(len(labels) / 10))
    for i, (label, x) in enumerate(zip(labels, xs)):
        if i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{y}" text-anchor="middle" fill="#5a6472">{escape(label)}</text>')


def _legend(parts, names, left, top, width, swatch):
    column_w = width / LEGEND_COLUMNS
    for i, name in enumerate(names):
        x = left + (i % LEGEND_COLUMNS) * column_w
        y = top + (i // LEGEND_COLUMNS) * LEGEND_ROW
        parts.append(swatch(i, x, y))
        parts.append(f'<text x="{x + 30:.1f}" y="{y + 4:.1f}" fill="#1c2430">{escape(name)}</text>')


def _legend_height(count):
    return math.ceil(count / LEGEND_COLUMNS) * LEGEND_ROW + 8 if count > 1 else 0


def _stroke(i, width):
    dash = DASHES[i % len(DASHES)]
    return (f'stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="{width}"'
            + (f' stroke-dasharray="{dash}"' if dash else ""))


def _line_swatch(i, x, y):
    return f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 24:.1f}" y2="{y:.1f}" {_stroke(i, 3)}/>'


def _box_swatch(i, x, y):
    return f'<rect x="{x + 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'


def _close(parts, series, left, top, width, swatch):
    """The legend, when there is more than one series to tell apart, and the end of the SVG."""
    if len(series) > 1:
        _legend(parts, [name for name, _v in series], left, top, width, swatch)
    parts.append("</svg>")
    return mark_safe("".join(parts))


def line_chart(chart_id, title, desc, labels, series, width=720, height=300):
    """One line per (name, values) series over the x `labels` (months)."""
    left, right, top, bottom = 60, 20, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    total_h = height + _legend_height(len(series))
    top_value, step = nice_scale(max((max(v) for _n, v in series if v), default=0))
    n = len(labels)
    xs = [left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]
    parts = _open(chart_id, title, desc, width, total_h)
    _y_axis(parts, top_value, step, left, top, plot_w, plot_h)
    _x_labels(parts, labels, xs, top + plot_h + 18)
    for i, (name, values) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{x:.1f},{top + plot_h - v / top_value * plot_h:.1f}" for x, v in zip(xs, values))
        parts.append(f'<polyline fill="none" {_stroke(i, 2.5)} points="{points}"/>')
        if n <= 36:
            for x, label, v in zip(xs, labels, values):
                y = top + plot_h - v / top_value * plot_h
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                             f'<title>{escape(name)}, {escape(label)}: {number(v)}</title></circle>')
    return _close(parts, series, left, height + 6, plot_w, _line_swatch)


def bar_chart(chart_id, title, desc, labels, series, width=720, height=300):
    """Grouped vertical bars: for each x label, one bar per (name, values) series."""
    left, right, top, bottom = 60, 20, 14, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    total_h = height + _legend_height(len(series))
    top_value, step = nice_scale(max((max(v) for _n, v in series if v), default=0))
    n = max(1, len(labels))
    group = plot_w / n
    bar = group * 0.8 / max(1, len(series))
    xs = [left + group * (i + 0.5) for i in range(len(labels))]
    parts = _open(chart_id, title, desc, width, total_h)
    _y_axis(parts, top_value, step, left, top, plot_w, plot_h)
    _x_labels(parts, labels, xs, top + plot_h + 18)
    for s, (name, values) in enumerate(series):
        for i, (label, v) in enumerate(zip(labels, values)):
            h = v / top_value * plot_h
            x = left + group * i + group * 0.1 + bar * s
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar - 1, 1):.1f}" '
                         f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                         f'<title>{escape(name)}, {escape(label)}: {number(v)}</title></rect>')
    return _close(parts, series, left, height + 6, plot_w, _box_swatch)


def stacked_bars(chart_id, title, desc, labels, series, width=720, row=30):
    """Horizontal bars, one per label (e.g. a contributor), stacked from the (name, values) series."""
    label_w, right, top = 230, 20, 26
    plot_w = width - label_w - right
    height = top + row * len(labels) + 10
    totals = [sum(column) for column in zip(*(v for _n, v in series))] or [0]
    top_value, step = nice_scale(max(totals))
    parts = _open(chart_id, title, desc, width, height + _legend_height(len(series)))
    value = 0
    while value <= top_value + 1e-9:
        x = label_w + value / top_value * plot_w
        parts.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 10}" stroke="#d6dce4"/>')
        parts.append(f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" fill="#5a6472">{number(value)}</text>')
        value += step
    for i, label in enumerate(labels):
        y = top + row * i
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(f'<text x="{label_w - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end" fill="#1c2430">'
                     f'<title>{escape(label)}</title>{escape(short)}</text>')
        x = label_w
        for s, (name, values) in enumerate(series):
            w = values[i] / top_value * plot_w
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" '
                             f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(label)} — {escape(name)}: '
                             f'{number(values[i])}</title></rect>')
            x += w
    _legend(parts, [name for name, _v in series], label_w, height + 6, plot_w, _box_swatch)
    parts.append("</svg>")
    return mark_safe("".join(parts))
