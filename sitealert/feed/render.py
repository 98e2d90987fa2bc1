"""Feed documents as text: the JSON, txt and csv renderings of sorted entry rows, and the checksum.

A row is (target, kind, countries, categories, first_listed_at) as the database keeps them:
countries and categories comma-joined, first_listed_at as stored text. Building a million-entry
document must not loop over rows in Python, so rows are rendered with C-level map/zip/join calls,
and the few distinct attribute combinations and dates are rendered once each.
"""

import csv
import hashlib
import io
import string
from datetime import UTC, datetime
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


def checksum_of_pieces(pieces):
    """checksum_of from the txt document's bytes, in pieces."""
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return "sha256:" + digest.hexdigest()


def split(joined):
    return joined.split(",") if joined else []


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt is not None else None


def iso_from_db(value):
    """ISO 8601 in UTC from first_listed_at as the feed's queries read it: 'YYYY-MM-DD HH:MM:SS[.ffffff]'
    in UTC, from either database."""
    if value is None or value.endswith("Z"):
        return value
    if len(value) >= 19 and value[4] == "-" and value[10] in " T":
        return value[:10] + "T" + value[11:19] + "Z"
    parsed = datetime.fromisoformat(value)
    return iso(parsed.astimezone(UTC) if parsed.tzinfo else parsed)


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
        value = self[key] = self.compute(key)
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
        self.json_attributes = _Memo(lambda key: _json_attributes(*key))
        self.csv_attributes = _Memo(lambda key: _csv_attributes(*key))
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
        """The entries of a full document of `fmt` (`SortedEntries`), from chunks of rows in any
        order (see `SortedEntries.add`; just (target,) for txt)."""
        entries = SortedEntries(fmt, self)
        for rows in chunks:
            entries.add(rows)
        entries.sort()
        return entries


class AmbiguousAttributes(ValueError):
    """Attributes joined by tabs that cannot be split again: one of them holds a tab."""


def _attribute_fields(attributes):
    """(kind, countries, categories) from a row's attributes: that tuple, or the three joined by tabs."""
    fields = attributes if isinstance(attributes, tuple) else tuple(attributes.split("\t"))
    if len(fields) != 3:
        raise AmbiguousAttributes(attributes)
    return fields


_JSON_NEXT = "," + JSON_PREFIX + '"'  # ends every JSON record but the last, with the start of the next
# What comes before and after a record's attributes, and after its date (see SortedEntries).
_FRAMES = {"json": ('",', ',"first_listed_at":"', '"}' + _JSON_NEXT), "csv": (",", ",", "\n")}


class SortedEntries:
    """The entries of a full document, collected from chunks of rows in fetch order and sorted by
    target once.

    A record is its target, a middle that only depends on the entry's attributes and an end that
    only depends on its date (with the separator and the start of the next record folded in):
    `{"target":"` target `","kind":…,"first_listed_at":"` date `"},{"target":"` in JSON, target
    `,kind,…,` date newline in csv. Per entry only its target and references to the shared middle
    and end are kept, so the document is a join of the sorted targets with those, a piece at a
    time: no string per record is built, and only the targets are sorted. Chunks of rows should be
    small enough to stay in the CPU cache while they are taken apart: a million rows fetched and
    taken apart 20,000 at a time took nearly twice as long as 1,000 at a time.
    """

    def __init__(self, fmt, renderer):
        self.fmt, self.targets, self.order, self.plain = fmt, [], None, True
        if fmt != "txt":
            attributes = renderer.json_attributes if fmt == "json" else renderer.csv_attributes
            before, after, end = _FRAMES[fmt]
            self.middle = _Memo(lambda key: before + attributes[_attribute_fields(key)] + after)
            self.end = _Memo(lambda first: renderer.isos[first] + end)
            self.middles, self.ends = [], []

    def add(self, rows):
        """Rows of (target, attributes, first_listed_at), the attributes either as a tuple or
        joined by tabs, or (target, kind, countries, categories, first_listed_at)."""
        targets = list(map(itemgetter(0), rows))
        self.targets += targets
        if self.fmt != "txt" and rows:
            self.plain = self.plain and plain(targets)
            attributes = itemgetter(1) if len(rows[0]) == 3 else itemgetter(1, 2, 3)
            self.middles += map(self.middle.__getitem__, map(attributes, rows))
            self.ends += map(self.end.__getitem__, map(itemgetter(-1), rows))

    def sort(self):
        """Sort the targets, and keep the order in which to take the middles and ends."""
        if self.fmt == "txt":
            self.targets.sort()
        else:
            self.order = sorted(range(len(self.targets)), key=self.targets.__getitem__)
            self.targets = list(map(self.targets.__getitem__, self.order))

    def txt_pieces(self, chunk):
        """The txt document, as a list of pieces of bytes."""
        targets = self.targets
        return [("\n".join(targets[start:start + chunk]) + "\n").encode() for start in range(0, len(targets), chunk)]

    def pieces(self, version, checksum, chunk):
        """The JSON or csv document, piece by piece, as bytes."""
        targets, count, json = self.targets, len(self.targets), self.fmt == "json"
        if json:
            yield (json_header(version, checksum) + (JSON_PREFIX + '"' if count else "]}")).encode()
        else:
            yield CSV_HEADER.encode()
        for start in range(0, count, chunk):
            order, names = self.order[start:start + chunk], targets[start:start + chunk]
            middles, ends = map(self.middles.__getitem__, order), map(self.ends.__getitem__, order)
            if json or self.plain:
                parts = [None] * (3 * len(names))
                parts[0::3] = names if self.plain else [encode_basestring(name)[1:-1] for name in names]
                parts[1::3] = middles
                parts[2::3] = ends
                text = "".join(parts)
            else:
                text = "".join(_quoted_csv_lines(zip(names, (m[1:-1] for m in middles), (e[:-1] for e in ends))))
            if json and start + chunk >= count:
                text = text[:-len(_JSON_NEXT)] + "]}"
            yield text.encode()


def json_header(version, checksum):
    return f'{{"version":{int(version)},"checksum":"{checksum}","entries":['


def render(fmt, version, checksum, records, chunk=20_000):
    """The document's text, piece by piece, from its sorted records (`Renderer.json_entries`,
    `Renderer.csv_lines` or targets): the plain way to build what `SortedEntries.pieces` builds."""
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
