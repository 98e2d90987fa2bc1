"""Targets (SPEC §2): the one normalizer every entry point calls, and Public Suffix List lookups.

Pure Python: imports neither Django nor any network library, so the SDK can ship it alone.

Public API
----------
normalize_target(text) -> str
    The canonical target for whatever a person pasted, or ``InvalidTarget``. A domain comes back
    lower case, in IDNA 2008 A-labels (UTS #46 mapping, non-transitional), without scheme,
    userinfo, port, path, trailing dot or surrounding blanks; an app as ``android:<package>`` or
    ``ios:<digits>``.
InvalidTarget(code, **params)
    The refusal, a ``ValueError``. ``.code`` is a key of ``MESSAGES`` (for translation),
    ``.params`` fill that message's placeholders, ``str(exc)`` is the English message.
MESSAGES
    code -> English message template.
registrable_domain(host) -> str | None
    eTLD+1 per the full PSL (ICANN and PRIVATE sections); None for a public suffix itself, a
    malformed name or an IP address.
is_public_suffix(host) -> bool
    Whether host is itself a public suffix (com, co.uk, blogspot.com, or an unlisted TLD).
target_kind(target) -> 'domain' | 'app'
covering_targets(target) -> list[str]
    The listed targets that would cover a canonical target: the name and each parent down to its
    registrable domain, most specific first (an app: only itself).
item_candidates(item) -> (target, list[str])
    normalize_target then covering_targets: what the matcher and the private lookup both look up.
target_digest(target) -> bytes
    SHA-256 of the target's UTF-8 bytes (the private lookup's hashes).

What normalization decides
--------------------------
- URLs: http, https, ftp, ws and wss URLs name their host; so do "//host/path" and
  "host:port/path". Other schemes (mailto:, javascript:, ssh://, file:…) are refused, and so is a
  bare "user@example.com", which is an e-mail address. Percent-escapes in the host are decoded.
- Unicode: full-width forms and the ideographic full stop "。" are folded before the URL is
  split; the host is then UTS #46-mapped and each non-ASCII label turned into its A-label. An
  "xn--" label must be a valid A-label.
- Wildcards: a leading "*." (and a cookie-style leading ".") is dropped, because listing
  example.com already covers every subdomain; any other "*" is refused.
- Characters: an ASCII label may hold letters, digits, "-" and "_", anywhere in the label, and
  hyphens in the 3rd and 4th position ("r3---sn-abc.googlevideo.com"): browsers and DNS resolve
  such names and real sites use them, so IDNA's stricter rules apply only to non-ASCII labels.
  The top-level label may not contain "_".
- Registered names: the label directly under the public suffix ("example" in
  www.example.co.uk, "foo" in foo.blogspot.com) is what a registry issued, so it follows the
  LDH rules registries apply (RFC 1123, RFC 5891 §4.2.3.1): letters, digits and hyphens only,
  no hyphen at either end, no hyphens in the 3rd and 4th places except in a valid "xn--"
  A-label. "my_blog.example.com" is a domain; "my_blog.com" cannot exist and is refused.
- IP addresses are refused, in every form a browser accepts: dotted quads, shortened and
  hex/octal forms (127.1, 0x7f.0.0.1, 2130706433) and IPv6 literals, bracketed or bare. A name
  whose last label is otherwise numeric ("example.123") is refused too: browsers reject it.
- Single labels (localhost, intranet) are refused; a single listed TLD ("com") is refused as a
  public suffix, as is every public suffix of the ICANN and PRIVATE sections ("co.uk",
  "blogspot.com"). A name under a private suffix ("foo.blogspot.com") is a domain like any other.
- Lengths: at most 63 octets per A-label, 253 for the whole name.
- Apps: "android:" and "ios:" are case-insensitive and lower-cased; an Android package keeps
  its case (Play ids are case-sensitive) and needs two or more [A-Za-z][A-Za-z0-9_]* segments;
  "ios:id123" and "ios:0123" become "ios:123". Store pages (play.google.com/store/apps/details?id=…,
  apps.apple.com/…/id123, itunes.apple.com/…/id123, market://details?id=…) become app targets;
  any other page on those store hosts is refused rather than listing the store itself.
  A bare "com.example.app" is read as a domain name, never as an Android package.

Canonical input ("example.com") takes a fast path of one regex and one suffix-trie walk.
"""

from .errors import MESSAGES, InvalidTarget
from .suffixes import is_public_suffix, registrable_domain
from .targets import covering_targets, item_candidates, normalize_target, target_digest, target_kind, unicode_form

__all__ = [
    "MESSAGES",
    "InvalidTarget",
    "covering_targets",
    "is_public_suffix",
    "item_candidates",
    "normalize_target",
    "registrable_domain",
    "target_digest",
    "target_kind",
    "unicode_form",
]
