"""The operator's admin site is translated in every language, the parts only screen readers hear
included (Django's own Chinese catalog lacks the app list's column headers; ours supplies them)."""

from pathlib import Path

import django.contrib.admin
import polib
import pytest
from django.conf import settings
from django.utils import translation

ADMIN_LOCALE = Path(django.contrib.admin.__file__).parent / "locale"
LANGUAGES = [code for code, _name in settings.LANGUAGES if code != "en"]


def catalog(language):
    return polib.pofile(str(ADMIN_LOCALE / translation.to_locale(language) / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_admin_string_is_translated(language):
    # Where Django's translators kept the English word ("Documentation" in French), that is a translation.
    same_on_purpose = {e.msgid for e in catalog(language) if e.translated() and e.msgstr == e.msgid}
    untranslated = []
    with translation.override(language):
        for entry in catalog("en"):
            if entry.msgid_plural or entry.msgctxt or entry.msgid in same_on_purpose:
                continue
            if translation.gettext(entry.msgid) == entry.msgid:
                untranslated.append(entry.msgid)
    assert not untranslated, (language, untranslated)


@pytest.mark.django_db
def test_the_admin_app_lists_screen_reader_headers_in_chinese(client, olga):
    client.force_login(olga)
    html = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert '<html lang="zh-hans"' in html
    for english in ("Model name", "Add link", "Change or view list link"):
        assert english not in html
    assert "模型名称" in html
