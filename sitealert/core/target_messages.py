"""Translated reasons for refused targets, keyed by `InvalidTarget.code`."""

from django.utils.translation import gettext_lazy as _

# One entry per code of sitealert.hosts.MESSAGES, with the same placeholders as `.params`;
# a test checks that the English text here matches the normalizer's own message.
REASONS = {
    "empty": _(
        "Nothing was entered; enter a domain name such as example.com, or an app id such as "
        "android:com.example.app or ios:123456789."
    ),
    "contains_space": _("'%(text)s' contains a space or a line break; enter one domain name or address per line."),
    "email_address": _(
        "'%(text)s' looks like an e-mail address, not a web site; list the site's domain name instead."
    ),
    "unsupported_scheme": _(
        "'%(scheme)s:' addresses are not web sites; list the site's domain name (such as example.com) or "
        "a web address starting with http:// or https://."
    ),
    "userinfo": _(
        "'%(text)s' contains a user name and password (the part before '@'); list only the site's "
        "domain name, the part after '@'."
    ),
    "no_host": _("'%(text)s' contains no domain name."),
    "bad_port": _("'%(port)s' after the colon in '%(text)s' is not a port number."),
    "ip_address": _("'%(host)s' is an IP address; list the site's domain name instead."),
    "numeric_tld": _(
        "'%(host)s' ends in a number ('%(tld)s'), which browsers read as an IP address, not a domain "
        "name; list the site's domain name instead."
    ),
    "wildcard": _(
        "'%(host)s' contains '*'; only a leading '*.' is understood. It is not needed: listing "
        "example.com already covers all of its subdomains."
    ),
    "empty_label": _(
        "'%(host)s' has an empty part (two dots in a row, or a dot at the start or end); remove the "
        "extra dot."
    ),
    "invalid_character": _(
        "'%(host)s' contains '%(char)s', which is not allowed there in a domain name (only letters, "
        "digits, hyphens and, below the top level, underscores are)."
    ),
    "invalid_idna": _("'%(label)s' in '%(host)s' is not a valid internationalized (non-Latin) domain name part."),
    "label_too_long": _(
        "The part '%(label)s' is longer than 63 characters, the most one part of a domain name can have."
    ),
    "idn_label_too_long": _(
        "The part '%(label)s' takes %(length)s characters in the form domain names have on the internet "
        "(xn--…), more than the 63 one part of a domain name can have; shorten it."
    ),
    "name_too_long": _("'%(host)s' is longer than 253 characters, the most a domain name can have."),
    "idn_name_too_long": _(
        "'%(host)s' takes %(length)s characters in the form domain names have on the internet (xn--…), "
        "more than the 253 a domain name can have."
    ),
    "single_label": _(
        "'%(host)s' is not a complete domain name (it has no dot); list the site's full domain name, "
        "such as example.com."
    ),
    "public_suffix": _(
        "'%(host)s' is a public suffix: anyone can register names under it (as under com, co.uk or "
        "blogspot.com), so it cannot be listed as a whole; list the site's own domain name under it."
    ),
    "unregistrable_underscore": _(
        "'%(host)s' cannot exist: '%(label)s', the name registered under '%(suffix)s', contains '_'. "
        "Registries allow only letters, digits and hyphens in a registered name; an underscore can "
        "appear only in a subdomain (as in my_blog.example.com)."
    ),
    "unregistrable_hyphen": _(
        "'%(host)s' cannot exist: '%(label)s', the name registered under '%(suffix)s', starts or ends with "
        "a hyphen, which no registry allows."
    ),
    "unregistrable_double_hyphen": _(
        "'%(host)s' cannot exist: '%(label)s', the name registered under '%(suffix)s', has hyphens as its "
        "third and fourth characters, which registries keep for internationalized (non-Latin) names "
        "(those starting with xn--)."
    ),
    "bad_app_id": _(
        "'%(text)s' is not a valid app id; use android:<package name> (for example "
        "android:com.example.app) or ios:<digits> (for example ios:123456789)."
    ),
    "store_page_not_app": _(
        "'%(text)s' is an app store page but not one app's page; paste the app's own page address or its "
        "id, such as android:com.example.app or ios:123456789."
    ),
}


def translated_reason(exc):
    template = REASONS.get(getattr(exc, "code", None))
    if template is None:
        return str(exc)
    try:
        return str(template) % getattr(exc, "params", {})
    except (KeyError, TypeError, ValueError):
        return str(exc)


# The normalizer's reasons speak to contributors ("list the site's domain name instead"). Someone who
# checks a site, or asks for a review, is not listing anything: these codes get public wording.
PUBLIC_REASONS = {
    "contains_space": _("'%(text)s' contains a space or a line break; enter one domain name, web address or app "
                        "id."),
    "email_address": _("'%(text)s' looks like an e-mail address, not a web site; enter the site's domain name "
                       "instead."),
    "unsupported_scheme": _("'%(scheme)s:' addresses are not web sites; enter a domain name (such as example.com) "
                            "or a web address starting with http:// or https://."),
    "ip_address": _("'%(host)s' is an IP address; the list holds domain names and apps only, so enter the site's "
                    "domain name instead."),
    "numeric_tld": _("'%(host)s' ends in a number ('%(tld)s'), which browsers read as an IP address, not a domain "
                     "name; enter the site's domain name instead."),
    "single_label": _("'%(host)s' is not a complete domain name (it has no dot); enter the site's full domain "
                      "name, such as example.com."),
    "public_suffix": _("'%(host)s' is a public suffix: anyone can register names under it (as under com, co.uk or "
                       "blogspot.com), so it is never listed as a whole; enter the site's own domain name under it."),
}


def public_reason(exc):
    """Why a query cannot be checked, in the user's language and in words for the public."""
    template = PUBLIC_REASONS.get(getattr(exc, "code", None))
    if template is not None:
        try:
            return str(template) % getattr(exc, "params", {})
        except (KeyError, TypeError, ValueError):
            pass
    return translated_reason(exc)
