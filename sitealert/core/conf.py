"""The one way to read SiteAlert's product settings: `setting(name)`, from settings.SITEALERT."""

from django.conf import settings


def setting(name):
    """The value of product setting `name` (docs/configuration.md); every default lives in settings.py."""
    try:
        return settings.SITEALERT[name]
    except KeyError:
        raise KeyError(f"SITEALERT has no setting {name!r}; see docs/configuration.md") from None
