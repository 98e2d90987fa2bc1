"""Feed documents as text: the JSON, txt and csv renderings of sorted entry rows, and the checksum.

A row is (target, kind, countries, categories, first_listed_at) as the database keeps them:
countries and categories comma-joined, first_listed_at as stored text. Building a million-entry
document must not loop over rows in Python, so rows are rendered with C-level map/zip/str.__mod__
calls, and the few distinct attribute combinations and dates are rendered once each.
"""

import csv
import hashlib
import io
from datetime import datetime, timezone
from json.encoder import encode_basestring  # the C implementation

CSV_HEADER = "target,kind,countries,categories,first_listed_at\n"
JSON_ENTRY = '{"target":%s,%s,"first_listed_at":"%s"}'
JSON_PREFIX = '{"target":'  # what every rendered JSON entry starts with


def checksum_of(targets):
    """SPEC §4: SHA-256 over the UTF-8 targets in the order given, each followed by a newline."""
    digest = hashlib.sha256()
    for target in targets:
        digest.update(target.encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def checksum_of_sorted(targets, chunk=20_000):
    """checksum_of for a long sorted list, hashed a chunk at a time."""
    digest = hashlib.sha256()
    for start in range(0, len(targets), chunk):
        digest.update(("\n".join(targets[start:start + chunk]) + "\n").encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def split(joined):
    return joined.split(",") if joined else []


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def iso_from_db(value):
    """SQLite keeps 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC; the PostgreSQL query already formats it."""
    if value is None or value.endswith("Z"):
        return value
    if len(value) >= 19 and value[4] == "-" and value[10] in " T":
        return value[:10] + "T" + value[11:19] + "Z"
    parsed = datetime.fromisoformat(value)
    return iso(parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed)


def entry_dict(target, kind, countries, categories, first_listed_at):
    """One entry of the JSON documents; first_listed_at is a datetime or ISO text."""
    return {
        "target": target,
        "kind": kind,
        "countries": split(countries),
        "categories": split(categories),
        "first_listed_at": first_listed_at if isinstance(first_listed_at, str) or first_listed_at is None
        else iso(first_listed_at),
    }


class _Memo(dict):
    """Computes each distinct key once."""

    def __init__(self, compute):
        super().__init__()
        self.compute = compute

    def __missing__(self, key):
        value = self[key] = self.compute(*key) if isinstance(key, tuple) else self.compute(key)
        return value


def _json_attributes(kind, countries, categories):
    def array(joined):
        return "[" + ",".join(encode_basestring(v) for v in split(joined)) + "]"

    return f'"kind":{encode_basestring(kind)},"countries":{array(countries)},"categories":{array(categories)}'


def _csv_attributes(kind, countries, categories):
    return f"{kind},{countries.replace(',', ' ')},{categories.replace(',', ' ')}"


def _plain(targets):
    """Whether these targets can go into JSON and csv without escaping or quoting (canonical ones can)."""
    joined = "\n".join(targets)
    return (joined.isascii() and joined.replace("\n", "").isprintable()
            and not any(c in joined for c in '"\\,'))


class Renderer:
    """Renders chunks of sorted rows as JSON entries or csv lines."""

    def __init__(self):
        self.json_attributes = _Memo(_json_attributes)
        self.csv_attributes = _Memo(_csv_attributes)
        self.isos = _Memo(iso_from_db)

    def json_entries(self, rows):
        if not rows:
            return []
        targets, kinds, countries, categories, firsts = zip(*rows)
        quoted = map('"%s"'.__mod__ if _plain(targets) else encode_basestring, targets)
        return list(map(JSON_ENTRY.__mod__, zip(
            quoted, map(self.json_attributes.__getitem__, zip(kinds, countries, categories)),
            map(self.isos.__getitem__, firsts))))

    def csv_lines(self, rows):
        if not rows:
            return []
        targets, kinds, countries, categories, firsts = zip(*rows)
        attributes = map(self.csv_attributes.__getitem__, zip(kinds, countries, categories))
        isos = map(self.isos.__getitem__, firsts)
        if _plain(targets):
            return list(map("%s,%s,%s\n".__mod__, zip(targets, attributes, isos)))
        lines = []
        for target, attribute, first in zip(targets, attributes, isos):
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerow((target, *attribute.split(","), first))
            lines.append(out.getvalue())
        return lines


def json_header(version, checksum):
    return f'{{"version":{int(version)},"checksum":"{checksum}","entries":['


def render(fmt, version, checksum, rows, chunk=20_000):
    """The document's text, piece by piece, from sorted rows (sorted targets for txt)."""
    renderer = Renderer()
    if fmt == "json":
        yield json_header(version, checksum)
    elif fmt == "csv":
        yield CSV_HEADER
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        if fmt == "json":
            yield ("," if start else "") + ",".join(renderer.json_entries(part))
        elif fmt == "csv":
            yield "".join(renderer.csv_lines(part))
        else:
            yield "\n".join(part) + "\n"
    if fmt == "json":
        yield "]}"
