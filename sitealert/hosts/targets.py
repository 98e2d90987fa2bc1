"""normalize_target: whatever a person pastes becomes one canonical target, or is refused with a reason."""

import functools
import hashlib
import ipaddress
import os
import re
from collections.abc import Callable
from urllib.parse import unquote

import idna

from . import apps
from .errors import InvalidTarget
from .suffixes import _trie, ends_in_number, is_ipv4, is_listed_tld, public_label_count

try:
    from . import _speedups
except ImportError:  # built by pip when a compiler is present; the Python paths give the same answers
    _speedups = None  # type: ignore[assignment]

# Already canonical and certainly not an IP: skip URL parsing and IDNA. The top label starts with a
# letter, so it cannot "end in a number"; names with "xn--" take the slow path to check the A-label.
_CANONICAL_HOST = re.compile(r"(?:[a-z0-9_-]{1,63}\.)+[a-z][a-z0-9-]{0,62}")

# Blanks and invisible characters people paste around a name.
_LEADING_BLANKS = re.compile(r"[\s\ufeff\u200b-\u200f\u2060]+")
# The longest host part of an item worth normalizing: a name has at most 253 characters (RFC 1035),
# plus a leading "*." and a trailing dot. A Unicode name is no longer than its A-label form
# (punycode spends at least one character on each), and one percent-escaped takes at most 12
# characters a character ("%F0%9F%98%80"). Anything longer is refused by its length alone, before
# the decoding and the IDNA mapping, whose cost grows with the length.
MAX_HOST_CHARACTERS = 253 + 3
MAX_ENCODED_HOST_CHARACTERS = 12 * MAX_HOST_CHARACTERS
# Full-width characters are read as ASCII in the part of an item that can hold a scheme, a login
# and a host: the rest of a longer item is a path, which needs no translating.
_TRANSLATED_CHARACTERS = 2 * MAX_ENCODED_HOST_CHARACTERS
# Full-width ASCII (U+FF01-FF5E), the ideographic space and the ideographic full stops.
_FULLWIDTH = str.maketrans({code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {
    0x3000: 0x20,
    0x3002: 0x2E,
    0xFF61: 0x2E,
})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_PORT_THEN_PATH = re.compile(r"[0-9]*(?:[/\\?#].*)?", re.DOTALL)
_AUTHORITY_END = re.compile(r"[/\\?#]")
_SPACE = re.compile(r"\s")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_LABEL = re.compile(r"[a-z0-9_-]+")
_TOP_LABEL = re.compile(r"[a-z0-9-]+")

# Schemes that name a host the way http does; the listing is of the domain, whatever the protocol.
HOST_SCHEMES = frozenset({"http", "https", "ftp", "ws", "wss"})
# Never a web site, even where what follows the colon looks like a port ("tel:123").
_NON_HOST_SCHEMES = frozenset(
    {"mailto", "javascript", "data", "tel", "sms", "about", "blob", "file", "intent", "view-source",
     "skype", "xmpp", "sip", "sips", "im"}
)
APP_PREFIXES = ("android:", "ios:")

# SITEALERT_PURE_PYTHON=1 rules the accelerator out here too, as in sitealert.matcher.core.
_common_target: Callable[[object], str | None] | None = None
if _speedups is not None and os.environ.get("SITEALERT_PURE_PYTHON", "") in ("", "0"):
    _speedups.setup(_trie, frozenset({apps.GOOGLE_PLAY, *apps.APPLE_STORES}))
    _common_target = _speedups.common_target


def normalize_target(text: str) -> str:
    """The canonical target for text, or InvalidTarget saying why there is none."""
    # The C accelerator decides the common shapes (a third of a million-row import's Python time
    # went here) and leaves the rest to the Python paths, whose answers it never contradicts.
    if _common_target is not None:
        found = _common_target(text)
        if found is not None:
            return found
    return _python_normalize_target(text)


def _python_normalize_target(text: str) -> str:
    """normalize_target without the C accelerator: the reference tests compare it with."""
    if (
        text.__class__ is str
        and len(text) <= 253
        and _CANONICAL_HOST.fullmatch(text)
        and "xn--" not in text
    ):
        labels = text.split(".")
        public = public_label_count(labels)
        # Without a hyphen or an underscore anywhere, every label is registrable: most names skip the call.
        if public < len(labels) and (("-" not in text and "_" not in text) or _is_registrable(labels[-public - 1])):
            return text
    return _common_form(text) or _normalize(text)


def _common_form(text: str) -> str | None:
    """The target of the shapes lists are mostly made of besides canonical names, or None.

    Upper-case names, and http(s) addresses of a plain host with any path ("HTTPS://Example.com/a?b"),
    skip the general parser. None means "take the full path", which this never contradicts: the
    host must match the canonical pattern after lower-casing (so no userinfo, port, percent sign,
    blank, wildcard, trailing dot or IP address), and store hosts go the full way for their app.
    """
    if text.__class__ is not str or not text.isascii():
        return None
    low = text.lower()
    start = 8 if low.startswith("https://") else 7 if low.startswith("http://") else 0
    end = _AUTHORITY_END.search(low, start)
    host = low[start:end.start()] if end else low[start:]
    if (len(host) > 253 or not _CANONICAL_HOST.fullmatch(host) or "xn--" in host
            or host == apps.GOOGLE_PLAY or host in apps.APPLE_STORES):
        return None
    labels = host.split(".")
    public = public_label_count(labels)
    return host if public < len(labels) and _is_registrable(labels[-public - 1]) else None


def target_kind(target: str) -> str:
    """'app' for android:/ios: targets, 'domain' otherwise. Expects a canonical target."""
    return "app" if target.startswith(APP_PREFIXES) else "domain"


def unicode_form(target: str) -> str:
    """A canonical domain target as people read it: its A-labels (xn--…) as Unicode; other targets unchanged."""
    if "xn--" not in target or ":" in target:
        return target
    try:
        return idna.decode(target)
    except (idna.IDNAError, UnicodeError):
        return target


def covering_targets(target: str) -> list[str]:
    """The targets whose listing would cover a canonical target, most specific first.

    For a domain: the name itself and each parent down to its registrable domain, never its
    public suffix ("a.b.example.co.uk" -> a.b.example.co.uk, b.example.co.uk, example.co.uk).
    An app is covered only by itself. Expects a canonical target (does not normalize).
    """
    if target.startswith(APP_PREFIXES):
        return [target]
    labels = target.split(".")
    own = len(labels) - public_label_count(labels)
    return [".".join(labels[i:]) for i in range(own)]


def item_candidates(item: str) -> tuple[str, list[str]]:
    """(canonical target, the targets whose listing would cover it, most specific first) of a raw
    item: what the matcher looks up for an item, and what the client's private lookup hashes.
    Raises InvalidTarget as normalize_target does."""
    target = normalize_target(item)
    return target, covering_targets(target)


def target_digest(target: str) -> bytes:
    """SHA-256 of a canonical target's UTF-8 bytes: what the private lookup publishes instead of
    the target (a prefix of its hex form is what a client asks for)."""
    return hashlib.sha256(target.encode("utf-8")).digest()


def _normalize(text: str) -> str:
    if text is None:
        raise InvalidTarget("empty")
    if not isinstance(text, str):
        raise TypeError(f"normalize_target() takes a str, not {type(text).__name__}")
    text = _strip_blanks(text)
    if not text.isascii():
        head = text[:_TRANSLATED_CHARACTERS]
        text = _strip_blanks(head.translate(_FULLWIDTH) + text[len(head):])
    if not text:
        raise InvalidTarget("empty")
    _refuse_bare_ipv6(text)

    rest, has_scheme = text, False
    scheme_match = _SCHEME.match(text)
    if scheme_match:
        scheme, after = scheme_match[1].lower(), text[scheme_match.end() :]
        if scheme in apps.PLATFORMS:
            return apps.normalize_app(scheme, after, text)
        if scheme == "market":
            return apps.app_from_market_url(after, text)
        if scheme in HOST_SCHEMES:
            rest, has_scheme = after.lstrip("/\\"), True
        elif after.startswith("//") or scheme in _NON_HOST_SCHEMES:
            raise InvalidTarget("unsupported_scheme", scheme=scheme)
        elif "." not in scheme and not _PORT_THEN_PATH.fullmatch(after) and "@" not in _authority(after):
            raise InvalidTarget("unsupported_scheme", scheme=scheme)
        # else "example.com:8080/…" or "localhost:3000": a host and a port, no scheme; or
        # "user:password@example.com", refused below
    elif text.startswith(("//", "\\\\")):
        rest, has_scheme = text.lstrip("/\\"), True

    authority = _authority(rest)
    tail = rest[len(authority):]
    if "@" in authority:
        if not has_scheme:
            # Without a scheme, "name@host" is an e-mail address; "name:password@host" a login.
            raise InvalidTarget("userinfo" if ":" in authority.rpartition("@")[0] else "email_address", text=text)
        authority = authority.rpartition("@")[2]
    if authority.startswith("[") or authority[:3].lower() == "%5b":
        _refuse_bracketed(unquote(authority))
    host, colon, port = authority.partition(":")
    if colon and port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise InvalidTarget("bad_port", port=port, text=text)
    if not host:
        raise InvalidTarget("no_host", text=text)

    host = canonical_host(host)
    path, _, query = tail.partition("#")[0].partition("?")
    return apps.app_from_store_url(host, path.replace("\\", "/"), query, text) or host


def _strip_blanks(text: str) -> str:
    """text without blanks and invisible characters at either end, in time linear in its length.

    The trailing ones are the leading ones of the reversed text: a pattern anchored at the end
    ("[…]+$") is retried from every blank of a run, quadratic in its length.
    """
    leading = _LEADING_BLANKS.match(text)
    if leading:
        text = text[leading.end():]
    trailing = _LEADING_BLANKS.match(text[::-1])
    return text[: len(text) - trailing.end()] if trailing else text


def _authority(rest: str) -> str:
    """The part of an address after its scheme that names the host: up to the first / \\ ? or #."""
    end = _AUTHORITY_END.search(rest)
    return rest[: end.start()] if end else rest


def _refuse_bare_ipv6(text: str) -> None:
    if text.count(":") < 2:
        return
    try:
        ipaddress.IPv6Address(text.split("%")[0])
    except ValueError:
        return
    raise InvalidTarget("ip_address", host=text)


def _refuse_bracketed(authority: str) -> None:
    literal = authority[1:].partition("]")[0]
    try:
        ipaddress.IPv6Address(literal.split("%")[0])
    except ValueError:
        raise InvalidTarget("invalid_character", host=authority, char="[") from None
    raise InvalidTarget("ip_address", host=f"[{literal}]")


def canonical_host(raw: str) -> str:
    """Lower-case A-label form of a host (no scheme, port or userinfo), refused if not a listable domain."""
    if len(raw) > MAX_ENCODED_HOST_CHARACTERS:
        raise InvalidTarget("name_too_long", host=raw)
    host = raw
    if "%" in host:
        try:
            host = unquote(host, errors="strict")
        except UnicodeDecodeError:
            raise InvalidTarget("invalid_character", host=raw, char="%") from None
    if len(host) > MAX_HOST_CHARACTERS:
        raise InvalidTarget("name_too_long", host=raw)
    if _SPACE.search(host):
        raise InvalidTarget("contains_space", text=raw)
    control = _CONTROL.search(host)
    if control:
        raise InvalidTarget("invalid_character", host=raw, char=control[0])
    # "*.example.com" and the cookie-style ".example.com" mean the domain and its subdomains,
    # which is exactly what listing example.com means.
    if host.startswith("*."):
        host = host[2:]
    elif host.startswith("."):
        host = host[1:]
    if "*" in host:
        raise InvalidTarget("wildcard", host=raw)

    if host.isascii():
        host = host.lower()
    else:
        try:
            host = idna.uts46_remap(host, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError):
            raise InvalidTarget("invalid_character", host=raw, char=_first_unmappable(host)) from None
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise InvalidTarget("no_host", text=raw)
    labels = host.split(".")
    if "" in labels:
        raise InvalidTarget("empty_label", host=raw)
    if ends_in_number(labels):
        if is_ipv4(labels):
            raise InvalidTarget("ip_address", host=raw)
        raise InvalidTarget("numeric_tld", host=raw, tld=labels[-1])

    top = len(labels) - 1
    a_labels = []
    for index, label in enumerate(labels):
        if label.isascii():
            pattern = _TOP_LABEL if index == top else _LABEL
            if not pattern.fullmatch(label):
                char = next(c for c in label if not pattern.fullmatch(c))
                raise InvalidTarget("invalid_character", host=raw, char=char)
            if label.startswith("xn--") and not _is_a_label(label):
                raise InvalidTarget("invalid_idna", label=label, host=raw)
            a_label = label
        else:
            converted = _a_label_of(label)
            if converted is None:
                raise InvalidTarget("invalid_idna", label=label, host=raw)
            a_label = converted
        if len(a_label) > 63 or not a_label:
            if a_label == label:
                raise InvalidTarget("label_too_long", label=label)
            # The limits count the A-label (xn--…), which is longer than what the person typed.
            raise InvalidTarget("idn_label_too_long", label=label, length=str(len(label.encode("punycode")) + 4))
        a_labels.append(a_label)

    name = ".".join(a_labels)
    if len(name) > 253:
        if name == host:
            raise InvalidTarget("name_too_long", host=raw)
        raise InvalidTarget("idn_name_too_long", host=raw, length=str(len(name)))
    if len(a_labels) == 1:
        raise InvalidTarget("public_suffix" if is_listed_tld(name) else "single_label", host=host)
    public = public_label_count(a_labels)
    if public >= len(a_labels):
        raise InvalidTarget("public_suffix", host=host)
    _refuse_unregistrable(a_labels[-public - 1], ".".join(labels[-public:]), raw)
    return name


def _is_registrable(label: str) -> bool:
    """Whether a registry could have issued this label, one of [a-z0-9_-]+ or a checked A-label.

    RFC 1123 host names: letters, digits and hyphens, no hyphen at either end; RFC 5891 §4.2.3.1:
    hyphens in the 3rd and 4th places only in an "xn--" A-label (valid: the callers checked it).
    Plain string tests, not a regex: this runs on the fast path of every canonical name.
    """
    if label.startswith("xn--"):
        return True
    return "_" not in label and label[0] != "-" and label[-1] != "-" and label[2:4] != "--"


def _refuse_unregistrable(label: str, suffix: str, raw: str) -> None:
    """Refuse a name no registry can issue: the label registered under the public suffix must be LDH.

    Subdomain labels stay lenient ("_dmarc", "r3---sn-abc"), as browsers and DNS are; the
    registered label is what a registry issued, and registries follow RFC 1123 and RFC 5891.
    A non-ASCII or "xn--" label has passed IDNA 2008's own hyphen rules already.
    """
    if _is_registrable(label):
        return
    params = {"host": raw, "label": label, "suffix": suffix}
    if "_" in label:
        raise InvalidTarget("unregistrable_underscore", **params)
    if label.startswith("-") or label.endswith("-"):
        raise InvalidTarget("unregistrable_hyphen", **params)
    raise InvalidTarget("unregistrable_double_hyphen", **params)


def _first_unmappable(host: str) -> str:
    for char in host:
        try:
            idna.uts46_remap(char, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError):
            return char
    return host[0]


@functools.lru_cache(maxsize=65536)
def _is_a_label(label: str) -> bool:
    try:
        return idna.alabel(idna.ulabel(label)).decode("ascii") == label
    except (idna.IDNAError, UnicodeError):
        return False


@functools.lru_cache(maxsize=65536)
def _a_label_of(u_label: str) -> str | None:
    """The A-label of a (UTS #46-mapped) U-label; "" if it would be too long, None if invalid."""
    if len(u_label.encode("punycode")) + 4 > 63:
        return ""
    try:
        return idna.alabel(u_label).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return None
