"""Our translations are the ones in effect: no catalog loaded before ours shadows them.

Django merges the catalogs of INSTALLED_APPS with the first app winning, so a msgid that
django.contrib.admin also translates ("Log in", "Search"…) would show Django's wording. Such
strings take a context (`{% translate "Log in" context "account" %}`, `pgettext`).
"""

import gettext

import polib
import pytest
from django.utils import translation
from django.utils.translation import npgettext, pgettext

from sitealert.core.i18n import PACKAGE_DIR

LANGUAGES = {"ar": "ar", "zh_Hans": "zh-hans", "fr": "fr", "ru": "ru", "es": "es"}
OUR_APPS = ["core", "organizations", "listings", "feed"]
# Shadowed on purpose: model field names (models.py is shared) and the admin's own breadcrumbs,
# where Django's wording matches the rest of the admin.
SHADOWED_ON_PURPOSE = {"name", "Home", "Cancel"}


@pytest.mark.parametrize("app", OUR_APPS)
@pytest.mark.parametrize("directory", LANGUAGES)
def test_our_translations_are_in_effect(app, directory):
    po = polib.pofile(str(PACKAGE_DIR / app / "locale" / directory / "LC_MESSAGES" / "django.po"))
    plural = gettext.c2py(po.metadata["Plural-Forms"].split("plural=", 1)[1].rstrip(";"))
    shadowed = []
    with translation.override(LANGUAGES[directory]):
        for entry in po:
            if entry.msgid in SHADOWED_ON_PURPOSE:
                continue
            if entry.msgid_plural:
                got = npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, 5) if entry.msgctxt else \
                    translation.ngettext(entry.msgid, entry.msgid_plural, 5)
                want = entry.msgstr_plural[plural(5)]
            else:
                got = pgettext(entry.msgctxt, entry.msgid) if entry.msgctxt else translation.gettext(entry.msgid)
                want = entry.msgstr
            if got != want:
                shadowed.append(f"{entry.msgid!r}: {got!r} instead of {want!r}")
    assert not shadowed, "\n".join(shadowed)
