"""SiteAlert's own settings: `setting("NAME")` reads one from settings.SITEALERT.

settings.py reads every SITEALERT_NAME environment variable once, at start-up, parses and
validates it (a bad value is a ConfigurationError that names the variable) and keeps the result
as SITEALERT["NAME"] with its default; docs/configuration.md lists them all. Code reads them only
through `setting`, so that tests can change one with the `settings` fixture.
"""

from django.conf import settings


class ConfigurationError(ValueError):
    """An environment variable holds a value SiteAlert cannot use; the message names it."""


def setting(name):
    try:
        return settings.SITEALERT[name]
    except KeyError:
        raise LookupError(f"{name!r} is not a SiteAlert setting (see settings.SITEALERT and "
                          "docs/configuration.md)") from None
