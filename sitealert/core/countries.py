"""Country codes and their names in the interface's language (ISO 3166-1, from pycountry's data)."""

import functools
import gettext

import pycountry
from django.utils.translation import get_language

# pycountry's catalogs are named by locale; our interface languages map onto them.
LOCALES = {"zh-hans": "zh_CN", "ar": "ar", "fr": "fr", "ru": "ru", "es": "es"}

# Where ISO 3166-1 inverts a name for sorting ("Korea, Republic of") or its translations disagree
# with each other (and with what authorities call themselves), the United Nations' short names in
# its six official languages, which are this interface's and how WIPO writes them. A language
# missing from an entry falls back to pycountry.
UN_NAMES = {
    "BO": {"en": "Bolivia (Plurinational State of)", "fr": "Bolivie (État plurinational de)",
           "es": "Bolivia (Estado Plurinacional de)", "ru": "Боливия (Многонациональное Государство)",
           "zh-hans": "多民族玻利维亚国", "ar": "دولة بوليفيا المتعددة القوميات"},
    "CD": {"en": "Democratic Republic of the Congo", "fr": "République démocratique du Congo",
           "es": "República Democrática del Congo", "ru": "Демократическая Республика Конго",
           "zh-hans": "刚果民主共和国", "ar": "جمهورية الكونغو الديمقراطية"},
    "FM": {"en": "Micronesia (Federated States of)", "fr": "Micronésie (États fédérés de)",
           "es": "Micronesia (Estados Federados de)", "ru": "Микронезия (Федеративные Штаты)",
           "zh-hans": "密克罗尼西亚联邦", "ar": "ولايات ميكرونيزيا الموحدة"},
    "IR": {"en": "Iran (Islamic Republic of)", "fr": "Iran (République islamique d')",
           "es": "Irán (República Islámica del)", "ru": "Иран (Исламская Республика)",
           "zh-hans": "伊朗伊斯兰共和国", "ar": "جمهورية إيران الإسلامية"},
    "KP": {"en": "Democratic People's Republic of Korea", "fr": "République populaire démocratique de Corée",
           "es": "República Popular Democrática de Corea", "ru": "Корейская Народно-Демократическая Республика",
           "zh-hans": "朝鲜民主主义人民共和国", "ar": "جمهورية كوريا الشعبية الديمقراطية"},
    "KR": {"en": "Republic of Korea", "fr": "République de Corée", "es": "República de Corea",
           "ru": "Республика Корея", "zh-hans": "大韩民国", "ar": "جمهورية كوريا"},
    "LA": {"en": "Lao People's Democratic Republic", "fr": "République démocratique populaire lao",
           "es": "República Democrática Popular Lao", "ru": "Лаосская Народно-Демократическая Республика",
           "zh-hans": "老挝人民民主共和国", "ar": "جمهورية لاو الديمقراطية الشعبية"},
    "MD": {"en": "Republic of Moldova", "fr": "République de Moldova", "es": "República de Moldova",
           "ru": "Республика Молдова", "zh-hans": "摩尔多瓦共和国", "ar": "جمهورية مولدوفا"},
    "PS": {"en": "State of Palestine", "fr": "État de Palestine", "es": "Estado de Palestina",
           "ru": "Государство Палестина", "zh-hans": "巴勒斯坦国", "ar": "دولة فلسطين"},
    "RU": {"en": "Russian Federation", "fr": "Fédération de Russie", "es": "Federación de Rusia",
           "ru": "Российская Федерация", "zh-hans": "俄罗斯联邦", "ar": "الاتحاد الروسي"},
    "SB": {"fr": "Îles Salomon"},
    "KM": {"es": "Comoras"},
    "SY": {"en": "Syrian Arab Republic", "fr": "République arabe syrienne", "es": "República Árabe Siria",
           "ru": "Сирийская Арабская Республика", "zh-hans": "阿拉伯叙利亚共和国", "ar": "الجمهورية العربية السورية"},
    "TZ": {"en": "United Republic of Tanzania", "fr": "République-Unie de Tanzanie",
           "es": "República Unida de Tanzanía", "ru": "Объединенная Республика Танзания",
           "zh-hans": "坦桑尼亚联合共和国", "ar": "جمهورية تنزانيا المتحدة"},
    "VE": {"en": "Venezuela (Bolivarian Republic of)", "fr": "Venezuela (République bolivarienne du)",
           "es": "Venezuela (República Bolivariana de)", "ru": "Венесуэла (Боливарианская Республика)",
           "zh-hans": "委内瑞拉玻利瓦尔共和国", "ar": "جمهورية فنزويلا البوليفارية"},
    "VN": {"en": "Viet Nam", "fr": "Viet Nam", "es": "Viet Nam", "ru": "Вьетнам", "zh-hans": "越南",
           "ar": "فييت نام"},
    "VG": {"en": "British Virgin Islands", "es": "Islas Vírgenes Británicas", "ar": "جزر فرجن البريطانية"},
    "VI": {"en": "United States Virgin Islands", "fr": "Îles Vierges des États-Unis",
           "es": "Islas Vírgenes de los Estados Unidos", "ar": "جزر فرجن التابعة للولايات المتحدة"},
    # Territories whose French name pycountry inverts.
    "AX": {"fr": "Îles Åland"},
    "CC": {"fr": "Îles Cocos (Keeling)"},
    "CX": {"fr": "Île Christmas"},
    "FK": {"fr": "Îles Malouines (Falkland)"},
    "RE": {"fr": "La Réunion"},
}


def is_country_code(code):
    return bool(code) and len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


@functools.lru_cache(maxsize=16)
def _catalog(language):
    locale = LOCALES.get(language)
    if locale is None:
        return gettext.NullTranslations()
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[locale], fallback=True)


def country_name(code, language=None):
    """'IT' -> 'Italy' (or 'Italie', 'إيطاليا'…); unknown codes come back as given.

    The name people use ('Bolivia', not 'Bolivia, Plurinational State of'), in the United Nations'
    form where UN_NAMES has one."""
    country = pycountry.countries.get(alpha_2=(code or "").upper()) if code else None
    if country is None:
        return code or ""
    language = language or get_language() or "en"
    un_name = UN_NAMES.get(country.alpha_2, {}).get(language)
    if un_name:
        return un_name
    common = getattr(country, "common_name", None) or country.name
    if language not in LOCALES:
        return common
    catalog = _catalog(language)
    translated = catalog.gettext(common)
    if translated == common and common != country.name:
        translated = catalog.gettext(country.name)  # no translation of the common name: the official one's
    return translated


def names_to_search(code):
    """Every name a reader may look a country up by: in the interface language and in English as the
    pages write them, and ISO 3166-1's forms ('South Korea', 'Korea, Republic of')."""
    country = pycountry.countries.get(alpha_2=(code or "").upper()) if code else None
    if country is None:
        return []
    names = {country_name(code), country_name(code, "en"), country.name}
    names.update(getattr(country, attribute) for attribute in ("common_name", "official_name")
                 if getattr(country, attribute, None))
    return sorted(names)
