"""Country codes and their names in the interface's language (ISO 3166-1, from pycountry's data)."""

import functools
import gettext

import pycountry
from django.utils.translation import get_language

# pycountry's catalogs are named by locale; our interface languages map onto them.
LOCALES = {"zh-hans": "zh_CN", "ar": "ar", "fr": "fr", "ru": "ru", "es": "es"}


def is_country_code(code):
    return bool(code) and len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


@functools.lru_cache(maxsize=16)
def _catalog(language):
    locale = LOCALES.get(language)
    if locale is None:
        return gettext.NullTranslations()
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True)


def country_name(code, language=None):
    """'IT' -> 'Italy' (or 'Italie', 'إيطاليا'…); unknown codes come back as given."""
    country = pycountry.countries.get(alpha_2=(code or "").upper()) if code else None
    if country is None:
        return code or ""
    english = getattr(country, "common_name", None) or country.name
    translated = _catalog(language or get_language() or "en").gettext(english)
    if translated == english and english != country.name:
        translated = _catalog(language or get_language() or "en").gettext(country.name)
    return translated
