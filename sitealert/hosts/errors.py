"""The one exception a target can be refused with, and the English text of every reason."""

import functools

# code -> English message template. The web layer translates by code and formats the
# translated template with the same params, so every placeholder here must be in .params.
MESSAGES: dict[str, str] = {
    "empty": (
        "Nothing was entered; enter a domain name such as example.com, or an app id such as "
        "android:com.example.app or ios:123456789."
    ),
    "contains_space": (
        "'{text}' contains a space or a line break; enter one domain name or address per line."
    ),
    "email_address": (
        "'{text}' looks like an e-mail address, not a web site; list the site's domain name instead."
    ),
    "unsupported_scheme": (
        "'{scheme}:' addresses are not web sites; list the site's domain name (such as example.com) "
        "or a web address starting with http:// or https://."
    ),
    "userinfo": (
        "'{text}' contains a user name and password (the part before '@'); list only the site's "
        "domain name, the part after '@'."
    ),
    "no_host": "'{text}' contains no domain name.",
    "bad_port": "'{port}' after the colon in '{text}' is not a port number.",
    "ip_address": "'{host}' is an IP address; list the site's domain name instead.",
    "numeric_tld": (
        "'{host}' ends in a number ('{tld}'), which browsers read as an IP address, not a domain "
        "name; list the site's domain name instead."
    ),
    "wildcard": (
        "'{host}' contains '*'; only a leading '*.' is understood. It is not needed: listing "
        "example.com already covers all of its subdomains."
    ),
    "empty_label": (
        "'{host}' has an empty part (two dots in a row, or a dot at the start or end); "
        "remove the extra dot."
    ),
    "invalid_character": (
        "'{host}' contains '{char}', which is not allowed there in a domain name (only letters, "
        "digits, hyphens and, below the top level, underscores are)."
    ),
    "invalid_idna": (
        "'{label}' in '{host}' is not a valid internationalized (non-Latin) domain name part."
    ),
    "label_too_long": (
        "The part '{label}' is longer than 63 characters, the most one part of a domain name can have."
    ),
    "idn_label_too_long": (
        "The part '{label}' takes {length} characters in the form domain names have on the internet "
        "(xn--…), more than the 63 one part of a domain name can have; shorten it."
    ),
    "name_too_long": (
        "'{host}' is longer than 253 characters, the most a domain name can have."
    ),
    "idn_name_too_long": (
        "'{host}' takes {length} characters in the form domain names have on the internet (xn--…), "
        "more than the 253 a domain name can have."
    ),
    "single_label": (
        "'{host}' is not a complete domain name (it has no dot); list the site's full domain name, "
        "such as example.com."
    ),
    "public_suffix": (
        "'{host}' is a public suffix: anyone can register names under it (as under com, co.uk or "
        "blogspot.com), so it cannot be listed as a whole; list the site's own domain name under it."
    ),
    "unregistrable_underscore": (
        "'{host}' cannot exist: '{label}', the name registered under '{suffix}', contains '_'. "
        "Registries allow only letters, digits and hyphens in a registered name; an underscore can "
        "appear only in a subdomain (as in my_blog.example.com)."
    ),
    "unregistrable_hyphen": (
        "'{host}' cannot exist: '{label}', the name registered under '{suffix}', starts or ends with "
        "a hyphen, which no registry allows."
    ),
    "unregistrable_double_hyphen": (
        "'{host}' cannot exist: '{label}', the name registered under '{suffix}', has hyphens as its "
        "third and fourth characters, which registries keep for internationalized (non-Latin) names "
        "(those starting with xn--)."
    ),
    "bad_app_id": (
        "'{text}' is not a valid app id; use android:<package name> (for example "
        "android:com.example.app) or ios:<digits> (for example ios:123456789)."
    ),
    "store_page_not_app": (
        "'{text}' is an app store page but not one app's page; paste the app's own page address "
        "or its id, such as android:com.example.app or ios:123456789."
    ),
}

_DISPLAY_LIMIT = 64


def display(value: str, limit: int = _DISPLAY_LIMIT) -> str:
    """Make a piece of user input safe and short enough to quote in a message."""
    if not value.isprintable():
        value = "".join(
            c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
            for c in value
        )
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


class InvalidTarget(ValueError):
    """A target was refused. ``code`` is a key of MESSAGES; ``params`` fill its placeholders.

    The params are display-ready (shortened, control characters escaped); str(exc) is the
    English message.
    """

    def __init__(self, code: str, **params: str):
        self.code = code
        self.params = {name: display(str(value)) for name, value in params.items()}
        super().__init__(MESSAGES[code].format(**self.params))

    def __reduce__(self) -> tuple[functools.partial["InvalidTarget"], tuple[()]]:
        # The default reduce would call InvalidTarget(message), losing the code.
        return (functools.partial(InvalidTarget, self.code, **self.params), ())
