"""Feed documents as text: the JSON, txt and csv renderings of sorted entry rows, and the checksum.

A row is (target, kind, countries, categories, first_listed_at) as the database keeps them:
countries and categories comma-joined, first_listed_at as stored text. Building a million-entry
document must not loop over rows in Python, so rows are rendered with C-level map/zip/str.__mod__
calls, and the few distinct attribute combinations and dates are rendered once each.
"""

import csv
import hashlib
import io
import string
from datetime import datetime, timezone
from json.encoder import encode_basestring  # the C implementation
from operator import itemgetter

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


# Canonical targets (A-labels, android:/ios: ids) use only these characters. They need no escaping
# in JSON nor quoting in csv, and all sort above '"' and ',', so a rendered entry or line sorts
# exactly like its target.
_CANONICAL_CHARACTERS = ("-.:_\n" + string.digits + string.ascii_letters).encode()


def plain(targets):
    joined = "\n".join(targets)
    return joined.isascii() and not joined.encode("ascii").translate(None, _CANONICAL_CHARACTERS)


def _quoted_csv_lines(fields):
    lines = []
    for target, attributes, first in fields:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow((target, *attributes.split(","), first))
        lines.append(out.getvalue())
    return lines


class Renderer:
    """Renders chunks of sorted rows as JSON entries or csv lines."""

    def __init__(self):
        self.json_attributes = _Memo(_json_attributes)
        self.csv_attributes = _Memo(_csv_attributes)
        self.isos = _Memo(iso_from_db)

    def _render(self, rows, targets, is_plain, attributes, template, escaped):
        if not rows:
            return []
        targets = targets or list(map(itemgetter(0), rows))
        fields = zip(targets, map(attributes.__getitem__, map(itemgetter(1, 2, 3), rows)),
                     map(self.isos.__getitem__, map(itemgetter(4), rows)))
        if plain(targets) if is_plain is None else is_plain:
            return list(map(template.__mod__, fields))
        return escaped(fields)

    def json_entries(self, rows, targets=None, is_plain=None):
        """Each row as a JSON entry; `targets` and `is_plain` when the caller has them already."""
        return self._render(rows, targets, is_plain, self.json_attributes, '{"target":"%s",%s,"first_listed_at":"%s"}',
                            lambda fields: [JSON_ENTRY % (encode_basestring(t), a, d) for t, a, d in fields])

    def csv_lines(self, rows, targets=None, is_plain=None):
        """Each row as a csv line (with its newline)."""
        return self._render(rows, targets, is_plain, self.csv_attributes, "%s,%s,%s\n", _quoted_csv_lines)

    def sorted_records(self, fmt, chunks):
        """(targets, records) from chunks of rows in any order, both sorted by target.

        Rendering in fetch order, then sorting the rendered strings, keeps memory access
        sequential: sorting the rows first and rendering them in sorted order takes twice as long.
        """
        targets, records, all_plain = [], [], True
        for rows in chunks:
            part = list(map(itemgetter(0), rows))
            is_plain = plain(part)
            all_plain = all_plain and is_plain
            targets += part
            if fmt == "json":
                records += self.json_entries(rows, part, is_plain)
            elif fmt == "csv":
                records += self.csv_lines(rows, part, is_plain)
        if fmt == "txt":
            targets.sort()
            return targets, targets
        if not all_plain:
            pairs = sorted(zip(targets, records), key=itemgetter(0))
            return [t for t, _ in pairs], [r for _, r in pairs]
        targets.sort()
        records.sort()
        return targets, records


def json_header(version, checksum):
    return f'{{"version":{int(version)},"checksum":"{checksum}","entries":['


def render(fmt, version, checksum, records, chunk=20_000):
    """The document's text, piece by piece, from its sorted records (`Renderer.sorted_records`)."""
    if fmt == "json":
        yield json_header(version, checksum)
    elif fmt == "csv":
        yield CSV_HEADER
    for start in range(0, len(records), chunk):
        part = records[start:start + chunk]
        if fmt == "json":
            yield ("," if start else "") + ",".join(part)
        elif fmt == "csv":
            yield "".join(part)
        else:
            yield "\n".join(part) + "\n"
    if fmt == "json":
        yield "]}"
