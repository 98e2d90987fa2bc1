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
