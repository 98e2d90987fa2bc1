"""No template shows words that bypass translation."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

PACKAGE = Path(__file__).resolve().parents[2] / "sitealert"
# Words that are the same in every language: the product's name and technical formats.
ALLOWED_WORDS = {"SiteAlert", "CSV", "JSON", "API", "SVG", "HTTP", "HTTPS", "DNS", "UTC"}
CHECKED_ATTRIBUTES = {"aria-label", "title", "placeholder", "alt"}
# Machine-readable literals (column names, code samples, embed snippets) are not translated.
SKIPPED_ELEMENTS = {"code", "pre", "script", "style", "kbd", "samp", "textarea"}
LETTER = re.compile(r"[^\W\d_]")
HOLE = " "  # where a template variable or tag was; a blank keeps HTML tags parseable


def templates():
    for path in sorted(PACKAGE.glob("*/templates/**/*")):
        relative = path.relative_to(PACKAGE)
        if path.is_file() and path.suffix in (".html", ".txt") and relative.parts[2] != "admin":
            yield path


def untranslated_source(source):
    """The template's text with translated blocks, variables, tags and comments replaced by holes."""
    out, skip_until = [], None
    for token in Lexer(source).tokenize():
        if skip_until is not None:
            if token.token_type == TokenType.BLOCK and token.contents.split()[0] == skip_until:
                skip_until = None
            continue
        if token.token_type == TokenType.TEXT:
            out.append(token.contents)
            continue
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0]
            if name in ("blocktranslate", "blocktrans"):
                skip_until = "end" + name
            elif name == "comment":
                skip_until = "endcomment"
        out.append(HOLE)
    return "".join(out)


def words(text):
    return [w for w in text.split() if LETTER.search(w) and w.strip(".,:;·()") not in ALLOWED_WORDS]


class Finder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.skipping = []
        self.found = []

    def handle_starttag(self, tag, attrs):
        if tag in SKIPPED_ELEMENTS:
            self.skipping.append(tag)
        for name, value in attrs:
            if name in CHECKED_ATTRIBUTES and value and words(value):
                self.found.append(f"{tag}[{name}]={value!r}")

    def handle_endtag(self, tag):
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data):
        if not self.skipping and words(data):
            self.found.append(repr(data.strip()))


def untranslated_text(path):
    text = untranslated_source(path.read_text(encoding="utf-8"))
    if path.suffix == ".txt":
        return [repr(line) for line in text.splitlines() if words(line)]
    finder = Finder()
    finder.feed(text)
    finder.close()
    return finder.found


@pytest.mark.parametrize("path", list(templates()), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_template_text_is_translated(path):
    found = untranslated_text(path)
    assert not found, f"untranslated text in {path.relative_to(PACKAGE)}: " + ", ".join(found)


def test_the_lint_catches_untranslated_text(tmp_path):
    sample = tmp_path / "sample.html"
    sample.write_text('{% load i18n %}<p>{% translate "Fine" %}</p><p>Not fine</p>'
                      '<button aria-label="Close">{% blocktranslate %}Also fine{% endblocktranslate %}</button>'
                      '<option{% if x %} selected{% endif %}>{{ x }}</option><code>target,category</code>')
    assert untranslated_text(sample) == ["'Not fine'", "button[aria-label]='Close'"]
