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
from datetime import UTC, datetime, timedelta
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


_PG_EPOCH = datetime(2000, 1, 1)


def iso_from_pg_binary(raw):
    """What iso_from_db gives for a timestamp sent in PostgreSQL's binary format (microseconds
    since 2000-01-01 UTC, eight bytes, big-endian)."""
    moment = _PG_EPOCH + timedelta(microseconds=int.from_bytes(raw, "big", signed=True))
    return iso_from_db(moment.isoformat(" "))


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
    """Computes each distinct key once, holding at most `limit` of them: a list whose entries were
    all first listed at different times must not keep ten million rendered dates in memory."""

    limit = 200_000

    def __init__(self, compute):
        super().__init__()
        self.compute = compute

    def __missing__(self, key):
        if len(self) >= self.limit:
            self.clear()
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
    return plain_lines("\n".join(targets).encode())


def plain_lines(lines):
    """Whether every target in these txt bytes (targets, each followed by a newline) is canonical."""
    return lines.isascii() and not lines.translate(None, _CANONICAL_CHARACTERS)


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

    def document_chunks(self, fmt, chunks, quoted=False):
        """The pieces of a full document of `fmt` (see `DocumentChunks`) from chunks of rows sorted by
        target."""
        return DocumentChunks(fmt, self, quoted).pieces(chunks)


class AmbiguousAttributes(ValueError):
    """Attributes joined by tabs that cannot be split again: one of them holds a tab."""


def _attribute_fields(attributes):
    """(kind, countries, categories) from a row's attributes: that tuple, or the three joined by tabs."""
    fields = attributes if isinstance(attributes, tuple) else tuple(attributes.split("\t"))
    if len(fields) != 3:
        raise AmbiguousAttributes(attributes)
    return fields


_JSON_NEXT = "," + JSON_PREFIX + '"'  # ends every JSON record but the last, with the start of the next
# What comes before and after a record's attributes, and after its date (see DocumentChunks).
_FRAMES = {"json": ('",', ',"first_listed_at":"', '"}' + _JSON_NEXT), "csv": (",", ",", "\n")}


class QuotingNeeded(Exception):
    """A csv document holds a target that needs quoting: every line must go through the csv module."""


class DocumentChunks:
    """A full document rendered from chunks of rows sorted by target, as they come from the
    database: memory holds one chunk, never the document or all rows.

    A record is its target, a middle that only depends on the entry's attributes and an end that
    only depends on its date (with the separator and the start of the next record folded in):
    `{"target":"` target `","kind":…,"first_listed_at":"` date `"},{"target":"` in JSON, target
    `,kind,…,` date newline in csv. The few distinct middles and ends are rendered once each, so a
    chunk is a join of its targets with references to them: no string per record is built.
    Chunks should be small enough to stay in the CPU cache while they are taken apart: a million
    rows fetched and taken apart 20,000 at a time took nearly twice as long as 1,000 at a time.
    """

    def __init__(self, fmt, renderer, quoted=False):
        self.fmt, self.quoted = fmt, quoted
        if fmt != "txt":
            attributes = renderer.json_attributes if fmt == "json" else renderer.csv_attributes
            before, after, end = _FRAMES[fmt]
            self.middle = _Memo(lambda key: before + attributes[_attribute_fields(key)] + after)
            self.end = _Memo(lambda first: renderer.isos[first] + end)

    def pieces(self, chunks):
        """(document bytes, txt bytes) per chunk of rows, the csv header first and the JSON
        document's end last; the JSON header (`json_header`) comes before all of them. Rows are
        (target, attributes, first_listed_at), the attributes either as a tuple or joined by tabs,
        or just (target,) for txt. A csv target that needs quoting raises QuotingNeeded unless
        `quoted` (then every line is written by the csv module, as a whole document must be)."""
        return self.framed(self._records(chunks))

    def framed(self, records):
        """The document's pieces around its records' pieces: the csv header, the JSON end."""
        if self.fmt == "csv":
            yield CSV_HEADER.encode(), b""
        yield from records
        if self.fmt == "json":
            yield b"]}", b""

    def copy_parts(self):
        """What `copy_out.rendered` renders records with, the same pieces as `_records`: the
        bytes before the first record, a record's middle and end (with the start of the next
        record) from its attributes joined by tabs and its date (PostgreSQL's binary timestamp:
        the database converts nothing), the escaping of a target that is
        not canonical, how much of the last record's end the document drops, and how many
        renderings to keep (as `_Memo`)."""
        if self.fmt == "txt":
            return {"fields": 1, "first": b"", "middle": None, "end": None, "escape": None, "strip": 0,
                    "limit": 1}
        return {"fields": 5, "first": (JSON_PREFIX + '"').encode() if self.fmt == "json" else b"",
                "middle": self.middle.__getitem__, "end": lambda raw: self.end[iso_from_pg_binary(raw)],
                "escape": _escaped_json_name if self.fmt == "json" else _quoting_needed,
                "strip": len(_JSON_NEXT) if self.fmt == "json" else 0, "limit": _Memo.limit}

    def _records(self, chunks):
        json, started = self.fmt == "json", False
        for rows in chunks:
            if not rows:
                continue
            names = list(map(itemgetter(0), rows))
            names.append("")  # the last newline, without copying the joined text again
            txt = "\n".join(names).encode()
            names.pop()
            if self.fmt == "txt":
                yield txt, txt
                continue
            attributes = itemgetter(1) if len(rows[0]) == 3 else itemgetter(1, 2, 3)
            middles = map(self.middle.__getitem__, map(attributes, rows))
            ends = map(self.end.__getitem__, map(itemgetter(-1), rows))
            is_plain = plain_lines(txt)
            if not (json or is_plain or self.quoted):
                raise QuotingNeeded
            if json or not self.quoted:
                # One join: what comes before the first record (the JSON separator or the start of
                # the entries) and the end of the last are parts of their own.
                parts = [None] * (3 * len(names) + 1)
                parts[0] = "" if not json else _JSON_NEXT if started else JSON_PREFIX + '"'
                parts[1::3] = names if is_plain else list(map(_escaped_json_name, names))
                parts[2::3] = middles
                parts[3::3] = ends
                if json:
                    parts[-1] = parts[-1][:-len(_JSON_NEXT)]
                text = "".join(parts)
            else:
                text = "".join(_quoted_csv_lines(zip(names, (m[1:-1] for m in middles), (e[:-1] for e in ends))))
            started = True
            yield text.encode(), txt


def _escaped_json_name(name):
    """A target as it stands between the quotes of a JSON string."""
    return encode_basestring(name)[1:-1]


def _quoting_needed(name):
    raise QuotingNeeded


def json_header(version, checksum):
    return f'{{"version":{int(version)},"checksum":"{checksum}","entries":['


def render(fmt, version, checksum, records, chunk=20_000):
    """The document's text, piece by piece, from its sorted records (`Renderer.json_entries`,
    `Renderer.csv_lines` or targets): the plain way to build what `DocumentChunks.pieces` builds."""
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
