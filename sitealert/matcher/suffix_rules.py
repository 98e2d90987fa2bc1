"""Which targets have Public Suffix List rules below them.

The normalizer refuses a public suffix, so "s3.amazonaws.com" is refused even when
"amazonaws.com" is listed: a subdomain of a target is itself a public suffix only when the list
has a rule strictly below that target. The matcher's fast paths leave such matches to the full
normalizer. This reads the same pinned file as `sitealert.hosts.suffixes`; erring towards "yes"
only costs speed.
"""

import functools

import idna
from publicsuffixlist import PSLFILE


def _label_forms(label: str) -> set[str]:
    forms = {label}
    if not label.isascii():
        for encode in (lambda u: idna.alabel(u).decode("ascii"), lambda u: u.encode("idna").decode("ascii")):
            try:
                forms.add(encode(label))
            except (idna.IDNAError, UnicodeError):
                pass
    return forms


@functools.cache
def rule_parents() -> frozenset[str]:
    """Every name that has a Public Suffix List rule strictly below it."""
    parents = set()
    with open(PSLFILE, encoding="utf-8") as rules:
        for line in rules:
            rule = line.strip().split(" ")[0].lower()
            if not rule or rule.startswith("//"):
                continue
            labels = rule.lstrip("!").split(".")
            wildcard = labels[0] == "*"
            if wildcard:
                labels = labels[1:]
            # Every proper suffix of the rule, and for "*.kobe.jp" also "kobe.jp" itself, whose
            # children are all public suffixes.
            names = [""]
            for depth, label in enumerate(reversed(labels), 1):
                names = [form + ("." + name if name else "") for name in names for form in _label_forms(label)]
                if depth < len(labels) or wildcard:
                    parents.update(names)
    return frozenset(parents)
