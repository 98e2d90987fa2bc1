"""Countries appear by name in the reader's language, and only real ISO codes are accepted."""

import pytest
from django.utils import translation

from sitealert.core.actors import Actor
from sitealert.core.countries import country_name
from sitealert.organizations.services import OrganizationError, create_organization


@pytest.mark.parametrize("language, name", [
    ("en", "Italy"), ("fr", "Italie"), ("es", "Italia"), ("ru", "Италия"), ("ar", "إيطاليا"), ("zh-hans", "意大利"),
])
def test_country_names_follow_the_interface_language(language, name):
    with translation.override(language):
        assert country_name("IT") == name


@pytest.mark.django_db
def test_made_up_country_codes_are_refused():
    with pytest.raises(OrganizationError, match="ISO 3166-1"):
        create_organization(kind="contributor", name="Nowhere Office", country="XX", actor=Actor(via="cli"))


@pytest.mark.parametrize("language", ["en", "fr", "es", "ru", "ar", "zh-hans"])
def test_no_country_name_is_inverted_for_sorting(language):
    """'Korea, Republic of' is how a sorted ISO table writes it, not how anyone names the country."""
    import pycountry

    # A comma that belongs to the name: a list of islands, not an inversion.
    lists = {"BQ", "SH"}
    inverted = {c.alpha_2: country_name(c.alpha_2, language) for c in pycountry.countries
                if c.alpha_2 not in lists and ("," in country_name(c.alpha_2, language)
                                               or "،" in country_name(c.alpha_2, language))}
    assert inverted == {}


@pytest.mark.parametrize("code, english", [("KR", "Republic of Korea"), ("BO", "Bolivia (Plurinational State of)"),
                                           ("TW", "Taiwan"), ("VN", "Viet Nam"), ("GB", "United Kingdom")])
def test_english_names(code, english):
    assert country_name(code, "en") == english


def test_the_demo_authorities_are_named_after_the_countries_as_the_pages_name_them():
    from sitealert.demo.data import CONTRIBUTORS

    for contributor in CONTRIBUTORS:
        assert contributor.name.endswith(f"({country_name(contributor.country, 'en')})")
    assert any(c.name == "Demo Copyright Office (Republic of Korea)" for c in CONTRIBUTORS)
