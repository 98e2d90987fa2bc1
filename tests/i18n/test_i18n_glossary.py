"""One term, one translation: every catalog entry that uses a key term translates it as docs/glossary.md says."""

import re
import unicodedata
from pathlib import Path

import polib
import pytest

from sitealert.core.i18n import catalogs

GLOSSARY = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"
# Catalog directory -> the glossary's column.
LANGUAGES = {"ar": "ar", "zh_Hans": "zh-hans", "en": "en", "fr": "fr", "ru": "ru", "es": "es"}
ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")  # short vowels, shadda, sukun, tatweel


def _section(name):
    text = GLOSSARY.read_text(encoding="utf-8")
    match = re.search(rf"^## {name}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/glossary.md has no '## {name}' section"
    rows = [line for line in match.group(1).splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def _fold(text):
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'").casefold().replace("ё", "е")
    return ARABIC_MARKS.sub("", text)


def english_forms():
    """term -> (pattern for the English forms, {whole msgids that are the term alone})."""
    forms = {}
    for term, listed in _section("English forms"):
        words, whole = [], set()
        for form in (f.strip() for f in listed.split(",")):
            if form.endswith("(the whole text)"):
                whole.add(form.removesuffix("(the whole text)").strip())
            else:
                words.append(re.escape(form))
        forms[term] = (re.compile(r"\b(?:" + "|".join(words) + r")\b", re.I), whole)
    return forms


def accepted_forms():
    """(term, language) -> accepted forms, folded; English accepts its own forms."""
    accepted = {(term, "en"): [_fold(f.removesuffix("(the whole text)").strip()) for f in listed.split(",")]
                for term, listed in _section("English forms")}
    for term, language, listed in _section("Accepted forms"):
        accepted[(term, language)] = [_fold(form.strip()) for form in listed.split(",")]
    return accepted


def exceptions():
    return {(term, language, start) for term, language, start, _reason in _section("Exceptions")}


def uses(term, msgid, forms):
    pattern, whole = forms[term]
    return msgid in whole or bool(pattern.search(msgid))


def _excepted(term, language, msgid, excepted):
    return any(t == term and lang in (language, "all") and msgid.startswith(start) for t, lang, start in excepted)


def test_the_glossary_names_every_term_in_every_language():
    forms, accepted = english_forms(), accepted_forms()
    terms = {row[0] for row in _section("Terms")}
    assert terms == set(forms) and len(terms) >= 5
    for term in terms:
        for language in LANGUAGES.values():
            assert accepted.get((term, language)), f"no accepted form of '{term}' in {language}"
    for term, *translations in _section("Terms"):
        for language, translation in zip(["ar", "zh-hans", "fr", "ru", "es"], translations):
            assert _fold(translation) in accepted[(term, language)], (term, language)


def test_every_exception_is_still_needed():
    forms, excepted = english_forms(), exceptions()
    msgids = {entry.msgid for path in catalogs() for entry in polib.pofile(str(path))}
    for term, _language, start in excepted:
        assert any(m.startswith(start) and uses(term, m, forms) for m in msgids), (term, start)


@pytest.mark.parametrize("path", [p for p in catalogs() if p.parts[-3] in LANGUAGES],
                         ids=lambda p: f"{p.parts[-5]}-{p.parts[-3]}")
def test_catalog_follows_the_glossary(path):
    language = LANGUAGES[path.parts[-3]]
    forms, accepted, excepted = english_forms(), accepted_forms(), exceptions()
    wrong = []
    for entry in polib.pofile(str(path)):
        translations = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        for term in forms:
            if not (uses(term, entry.msgid, forms) or (entry.msgid_plural and uses(term, entry.msgid_plural, forms))):
                continue
            if _excepted(term, language, entry.msgid, excepted):
                continue
            for translation in translations:
                if translation and not any(form in _fold(translation) for form in accepted[(term, language)]):
                    wrong.append(f"'{term}' in {entry.msgid[:60]!r}: {translation[:80]!r}")
    assert not wrong, f"{path.parts[-5]} ({language}) does not use the glossary's term:\n" + "\n".join(wrong)


def test_the_check_sees_a_synonym():
    forms, accepted = english_forms(), accepted_forms()
    assert uses("review request", "Confirm your review request", forms)
    assert uses("operating procedure", "Procedures", forms) and not uses("operating procedure", "Procedure", forms)
    assert not any(form in _fold("复核请求") for form in accepted[("review request", "zh-hans")])
    assert any(form in _fold("طلبات المراجعة") for form in accepted[("review request", "ar")])
    assert any(form in _fold("القائمة المجمّعة") for form in accepted[("aggregated list", "ar")])
    assert any(form in _fold("Защищенный ресурс") for form in accepted[("protected target", "ru")])


def test_the_check_tells_a_listing_from_the_act_of_listing():
    forms, accepted = english_forms(), accepted_forms()
    assert uses("listing", "the listing's note", forms) and uses("listing", "Listings", forms)
    assert not uses("listing", "It is listed by 2 authorities.", forms)
    # The act of listing is not the entry: "inclusión", "включение в список", "列入" alone do not pass.
    assert not any(form in _fold("Cada inclusión") for form in accepted[("listing", "es")])
    assert not any(form in _fold("Каждое включение в список") for form in accepted[("listing", "ru")])
    assert not any(form in _fold("每一项列入") for form in accepted[("listing", "zh-hans")])
    assert any(form in _fold("Подходящих записей нет.") for form in accepted[("listing", "ru")])
    assert any(form in _fold("إدراجاتك") for form in accepted[("listing", "ar")])
    assert uses("listed", "%(target)s is listed.", forms)
    assert uses("listed", "Every authority that lists the site", forms)
    assert not any(form in _fold("внесён в список") for form in accepted[("listed", "ru")])
    assert any(form in _fold("Включен в список") for form in accepted[("listed", "ru")])
    assert not any(form in _fold("sitio inscrito") for form in accepted[("listed", "es")])
