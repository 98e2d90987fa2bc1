"""Server-side SVG drawing of a redirect family: hosts in columns by redirect depth, arrows between.

Colours are presentation attributes, not style attributes, so the page's Content-Security-Policy
(style-src 'self') holds; every label is escaped.
"""

from django.utils.html import escape

NODE_WIDTH, NODE_HEIGHT = 230, 38
COLUMN_GAP, ROW_GAP, MARGIN = 80, 22, 20
MAX_LABEL = 30

FILL = {"listed": "#fde8e7", "unlisted": "#fff4d6"}
STROKE = {"listed": "#b42318", "unlisted": "#9a5b00"}
DOT = {"online": "#1a7f37", "offline": "#b42318", "unknown": "#8a8f98", None: None}


def layers(hosts, pairs, root):
    """Column of each host: its distance from a host no redirect leads to (the root first)."""
    incoming = dict.fromkeys(hosts, 0)
    for _, to in pairs:
        incoming[to] += 1
    column = {}
    start = [root] + [h for h in hosts if incoming[h] == 0 and h != root]
    queue = [(h, 0) for h in start]
    while queue or len(column) < len(hosts):
        if not queue:  # a cycle nothing leads into: start from its first host
            queue = [(next(h for h in hosts if h not in column), 0)]
        host, depth = queue.pop(0)
        if host in column:
            continue
        column[host] = depth
        queue.extend((to, depth + 1) for source, to in pairs if source == host and to not in column)
    return column


def _label(host):
    return host if len(host) <= MAX_LABEL else host[:MAX_LABEL - 1] + "…"


def render_svg(root, nodes, pairs, *, title, description, labels):
    """nodes: {host: {"listed": bool, "status": str|None}}; pairs: [(from_host, to_host, count)].

    labels: translated words {"listed", "unlisted", "online", "offline", "unknown"}.
    """
    hosts = list(nodes)
    column = layers(hosts, [(a, b) for a, b, _ in pairs], root)
    rows = {}
    position = {}
    for host in hosts:
        depth = column[host]
        row = rows.get(depth, 0)
        rows[depth] = row + 1
        position[host] = (MARGIN + depth * (NODE_WIDTH + COLUMN_GAP),
                          MARGIN + 30 + row * (NODE_HEIGHT + ROW_GAP))
    width = MARGIN * 2 + (max(column.values(), default=0) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + 30 + max(rows.values(), default=1) * (NODE_HEIGHT + ROW_GAP)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="graph-title graph-desc" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" class="redirect-graph" '
        f'font-family="sans-serif" font-size="13">',
        f'<title id="graph-title">{escape(title)}</title>',
        f'<desc id="graph-desc">{escape(description)}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#3b4250"/></marker></defs>',
    ]
    out.append(_legend(labels))
    for source, destination, count in pairs:
        out.append(_arrow(position[source], position[destination], count))
    for host in hosts:
        out.append(_node(host, position[host], nodes[host], labels))
    out.append("</svg>")
    return "\n".join(out)


def _legend(labels):
    items, x = [], MARGIN
    for kind in ("listed", "unlisted"):
        items.append(f'<rect x="{x}" y="{MARGIN - 6}" width="14" height="14" rx="3" fill="{FILL[kind]}" '
                     f'stroke="{STROKE[kind]}"/><text x="{x + 20}" y="{MARGIN + 5}" fill="#1f2430">'
                     f'{escape(labels[kind])}</text>')
        x += 40 + 8 * len(str(labels[kind]))
    for state in ("online", "offline", "unknown"):
        items.append(f'<circle cx="{x + 7}" cy="{MARGIN + 1}" r="6" fill="{DOT[state]}"/>'
                     f'<text x="{x + 20}" y="{MARGIN + 5}" fill="#1f2430">{escape(labels[state])}</text>')
        x += 40 + 8 * len(str(labels[state]))
    return '<g class="legend">' + "".join(items) + "</g>"


def _arrow(start, end, count):
    (x1, y1), (x2, y2) = start, end
    if x2 > x1:
        ax, ay, bx, by = x1 + NODE_WIDTH, y1 + NODE_HEIGHT / 2, x2, y2 + NODE_HEIGHT / 2
        path = f"M{ax},{ay} C{ax + COLUMN_GAP / 2},{ay} {bx - COLUMN_GAP / 2},{by} {bx},{by}"
    else:  # back to the same or an earlier column: loop around underneath
        ax, ay, bx, by = x1 + NODE_WIDTH / 2, y1 + NODE_HEIGHT, x2 + NODE_WIDTH / 2 + 12, y2 + NODE_HEIGHT
        drop = max(ay, by) + ROW_GAP
        path = f"M{ax},{ay} C{ax},{drop} {bx},{drop} {bx},{by}"
    mx, my = (ax + bx) / 2, (ay + by) / 2 - 4
    return (f'<path d="{path}" fill="none" stroke="#3b4250" stroke-width="1.5" marker-end="url(#arrow)"/>'
            f'<text x="{mx}" y="{my}" text-anchor="middle" fill="#3b4250" font-size="11">×{count}</text>')


def _node(host, position, info, labels):
    x, y = position
    kind = "listed" if info["listed"] else "unlisted"
    status = info["status"]
    parts = [f'<g class="node node-{kind}"><title>{escape(host)} — {escape(labels[kind])}'
             f'{" — " + escape(labels[status]) if status else ""}</title>',
             f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6" fill="{FILL[kind]}" '
             f'stroke="{STROKE[kind]}" stroke-width="1.5"/>']
    text_x = x + 12
    if status:
        parts.append(f'<circle cx="{x + 14}" cy="{y + NODE_HEIGHT / 2}" r="6" fill="{DOT[status]}"/>')
        text_x = x + 28
    parts.append(f'<text x="{text_x}" y="{y + NODE_HEIGHT / 2 + 4}" fill="#1f2430" direction="ltr">'
                 f'{escape(_label(host))}</text></g>')
    return "".join(parts)
