"""Monitoring speaks the six languages, and every monitoring setting is documented."""

import re
from pathlib import Path

import polib
import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "sitealert" / "monitoring" / "locale"
LANGUAGES = ["ar", "zh_Hans", "en", "fr", "ru", "es"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalog_is_complete(language):
    catalog = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    assert len(catalog) > 100
    assert catalog.untranslated_entries() == [] and catalog.fuzzy_entries() == []
    for entry in catalog:
        for text in [entry.msgstr, *entry.msgstr_plural.values()]:
            assert set(re.findall(r"%\(\w+\)[sd]", text)) <= set(re.findall(r"%\(\w+\)[sd]", entry.msgid + (
                entry.msgid_plural or ""))), (language, entry.msgid)


def test_dashboard_in_french_and_arabic(italy, list_targets, run_worker, harness, client, alice):
    from sitealert.core.i18n import compile_catalogs

    compile_catalogs()
    harness.dns.nxdomain("down.test")
    list_targets(italy, ["up.test", "down.test"])
    run_worker()
    client.force_login(alice)
    french = client.get(reverse("monitoring:dashboard"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Candidats au saut de domaine" in french and "le domaine n’existe pas" in french
    arabic = client.get(reverse("monitoring:dashboard"), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert 'dir="rtl"' in arabic and "مرشحو التنقّل" in arabic


def test_every_monitoring_setting_is_documented(settings):
    names = {"SITEALERT_" + name for name in settings.SITEALERT if name.startswith("MONITOR_")}
    assert len(names) >= 20
    guide = (ROOT / "docs" / "monitoring.md").read_text()
    reference = (ROOT / "docs" / "configuration.md").read_text()
    for name in sorted(names):
        assert f"`{name}`" in guide, f"{name} is not in docs/monitoring.md"
        assert f"`{name}`" in reference, f"{name} is not in docs/configuration.md"
