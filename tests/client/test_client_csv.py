"""The full list's csv parsed into a generation file: the C parser and the Python one write the same
bytes, whatever the chunking, and refuse the same documents."""

import random

import pytest

from sitealert.client import sync
from sitealert.client.errors import ProtocolError
from sitealert.matcher import core as matcher_core
from sitealert.matcher import generation

HEADER = "target,kind,countries,categories,first_listed_at\n"


def _document(rnd, count):
    names = sorted({f"{rnd.choice(['a', 'b', 'www'])}{rnd.randrange(10**6)}.example.{rnd.choice(['com', 'jp'])}"
                    for _ in range(count)} | {"amazonaws.com", "kawasaki.jp", "android:com.example.app", "ios:123"})
    firsts = ["2026-01-02T03:04:05Z", "2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "", "2026-13-01T00:00:00Z",
              "1970-01-01T00:00:01Z", "2106-02-07T06:28:16Z", "soon"]
    lines = [HEADER]
    for name in names:
        kind = "app" if ":" in name else "domain"
        countries = rnd.choice(["FR", "FR IT", "", "KR ES"])
        categories = rnd.choice(["streaming-video", "live-sports publishing", "émissions"])
        first = rnd.choice(firsts)
        if rnd.random() < 0.01:
            lines.append(f'"{name}",{kind},{countries},"{categories}",{first}\n')  # quoted: the Python path
        else:
            lines.append(f"{name},{kind},{countries},{categories},{first}\n")
    return "".join(lines).encode("utf-8"), names


def _parse(body, chunk, accelerated, monkeypatch, tmp_path):
    if not accelerated:
        monkeypatch.setattr(generation, "csv_parser", lambda: None)
    parser = sync._CsvParser("test")
    with open(tmp_path / f"out-{accelerated}-{chunk}", "w+b") as f:
        writer = generation.Writer(f)
        for start in range(0, len(body), chunk):
            parser.feed(body[start:start + chunk], writer)
        parser.close(writer)
        writer.finish(parser.combos, parser.checksum, count_hint=parser.count)
        f.seek(0)
        return f.read(), parser


@pytest.mark.skipif(matcher_core._speedups is None, reason="sitealert.matcher._speedups is not built")
@pytest.mark.parametrize("chunk", [1, 7, 4096, 1 << 20])
def test_the_c_parser_writes_what_the_python_parser_writes(monkeypatch, tmp_path, chunk):
    body, names = _document(random.Random(chunk), 3000 if chunk > 1 else 300)
    fast, fast_parser = _parse(body, chunk, True, monkeypatch, tmp_path)
    slow, slow_parser = _parse(body, chunk, False, monkeypatch, tmp_path)
    assert fast == slow
    assert fast_parser.checksum == sync.store.fast_checksum(names) == slow_parser.checksum
    opened = generation.from_bytes(fast)
    records = list(generation.iter_records(opened.records))
    assert [r[0] for r in records] == names
    by_target = {target: (meta, first) for target, meta, first in records}
    assert by_target["amazonaws.com"][0] & generation.RISKY and by_target["kawasaki.jp"][0] & generation.RISKY
    assert sum(1 for meta, _first in by_target.values() if meta & generation.RISKY) == 2


@pytest.mark.parametrize("accelerated", [True, False])
@pytest.mark.parametrize("body, message", [
    (HEADER + "b.example,domain,FR,x,\na.example,domain,FR,x,\n", "out of order"),
    (HEADER + "a.example,domain,FR,x,\na.example,domain,FR,x,\n", "out of order"),
    (HEADER + "a b.example,domain,FR,x,\n", "not a canonical target"),
    (HEADER + "a.example,domain,FR,x\n", "five columns"),
    (HEADER + "a.example,,FR,x,\n", "'kind'"),
    ("target,kind\na.example,domain,FR,x,\n", "does not start with"),
])
def test_bad_documents_are_refused_by_both_parsers(monkeypatch, tmp_path, accelerated, body, message):
    if accelerated and matcher_core._speedups is None:
        pytest.skip("sitealert.matcher._speedups is not built")
    with pytest.raises(ProtocolError, match=message):
        _parse(body.encode(), 5, accelerated, monkeypatch, tmp_path)


def test_first_listed_times_round_trip():
    for text in ("2026-01-02T03:04:05Z", "2024-02-29T23:59:59Z", "1970-01-01T00:00:01Z", "2106-02-07T06:28:15Z"):
        assert generation.first_text(generation.first_seconds(text)) == text
    for text in ("2023-02-29T00:00:00Z", "2026-01-02 03:04:05", "2106-02-07T06:28:16Z", "", None, "soon"):
        assert generation.first_seconds(text) == 0
