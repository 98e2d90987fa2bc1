"""The catalogs are complete, consistent with their sources, and cover every code of the normalizer."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

from sitealert.core.i18n import catalogs

PACKAGE = Path(__file__).resolve().parents[2] / "sitealert"
LANGUAGES = ["ar", "zh_Hans", "en", "fr", "ru", "es"]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
DJANGO_ADMIN = Path(sys.executable).with_name("django-admin")


def apps_with_catalogs():
    return sorted(p.parent.name for p in PACKAGE.glob("*/locale"))


def po_files():
    return [p for p in catalogs() if p.parts[-3] in LANGUAGES]


def nplurals(po):
    match = re.search(r"nplurals\s*=\s*(\d+)", po.metadata.get("Plural-Forms", ""))
    return int(match.group(1)) if match else None


def test_every_app_with_a_locale_dir_has_all_six_languages():
    for app in apps_with_catalogs():
        for language in LANGUAGES:
            path = PACKAGE / app / "locale" / language / "LC_MESSAGES" / "django.po"
            assert path.exists(), f"{path} is missing"


@pytest.mark.parametrize("path", po_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_catalog_is_complete(path):
    po = polib.pofile(str(path))
    assert "fuzzy" not in po.metadata_is_fuzzy, "the header is marked fuzzy"
    forms = nplurals(po)
    assert forms, "the Plural-Forms header is missing"
    problems = []
    for entry in po:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.msgid!r}")
        expected = set(PLACEHOLDER.findall(entry.msgid)) | set(PLACEHOLDER.findall(entry.msgid_plural or ""))
        if entry.msgid_plural:
            translations = [entry.msgstr_plural.get(i, "") for i in range(forms)]
            if len(entry.msgstr_plural) != forms:
                problems.append(f"{len(entry.msgstr_plural)} plural forms instead of {forms}: {entry.msgid!r}")
        else:
            translations = [entry.msgstr]
        for text in translations:
            if not text.strip():
                problems.append(f"untranslated: {entry.msgid!r}")
            elif not set(PLACEHOLDER.findall(text)) <= expected:
                problems.append(f"unknown placeholder in {text!r} for {entry.msgid!r}")
        if not entry.msgid_plural and set(PLACEHOLDER.findall(entry.msgstr)) != expected and entry.msgstr:
            problems.append(f"placeholders differ: {entry.msgstr!r} for {entry.msgid!r}")
    assert not problems, "\n".join(problems)


def msgids(path):
    return {(e.msgctxt, e.msgid, e.msgid_plural) for e in polib.pofile(str(path)) if not e.obsolete}


@pytest.mark.slow
@pytest.mark.parametrize("app", apps_with_catalogs())
def test_catalogs_are_up_to_date(app, tmp_path):
    """Running makemessages on the sources would not add or drop a single message."""
    copy = tmp_path / app
    shutil.copytree(PACKAGE / app, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    args = [str(DJANGO_ADMIN), "makemessages", "--no-obsolete"]
    for language in LANGUAGES:
        args += ["-l", language]
    subprocess.run(args, cwd=copy, env=env, check=True, capture_output=True)
    for language in LANGUAGES:
        relative = Path("locale") / language / "LC_MESSAGES" / "django.po"
        committed, fresh = msgids(PACKAGE / app / relative), msgids(copy / relative)
        assert committed == fresh, (
            f"{app}/{relative} is out of date; run makemessages and translate.\n"
            f"new in the sources: {sorted(m[1] for m in fresh - committed)}\n"
            f"gone from the sources: {sorted(m[1] for m in committed - fresh)}")
