"""Protected targets: domains whose listings the operator reviews before they are published.

A listing that equals, covers or falls under a protected target is held (`Listing.held_for`
names the protected target, `models.protected_target_reason` says why); `ProtectedIndex` answers
which protected target a listing hits, and the operator adds and removes protected targets here.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from sitealert.core import audit
from sitealert.hosts import covering_targets, normalize_target
from sitealert.listings.models import ProtectedTarget
from sitealert.organizations import permissions


class ProtectedIndex:
    """Answers 'does this target equal, cover or fall under a protected target?' in O(labels)."""

    def __init__(self):
        self.protected = set(ProtectedTarget.objects.values_list("target", flat=True))
        self.covered_by = {}
        for p in self.protected:
            if ":" in p:
                continue
            for parent in covering_targets(p):
                self.covered_by.setdefault(parent, p)

    def conflict(self, target):
        if not self.protected:
            return None
        if target in self.protected:
            return target
        if ":" in target:
            return None
        hit = self.covered_by.get(target)
        if hit is not None:
            return hit
        for parent in covering_targets(target):
            if parent in self.protected:
                return parent
        return None


def add_protected_target(raw, reason, *, actor):
    """Operator: never publish a listing equal to, covering or under `raw` without review."""
    permissions.require(permissions.can_administer(actor))
    target = normalize_target(raw)  # InvalidTarget carries the reason
    if ":" in target:
        raise ValueError(_("Only domains can be protected targets."))
    with transaction.atomic():
        protected, created = ProtectedTarget.objects.get_or_create(
            target=target, defaults={"reason": (reason or "").strip()[:200], "created_by": actor.user})
        if created:
            audit.record(actor, "protected.add", target, {"reason": protected.reason})
    return protected


def remove_protected_target(protected, *, actor):
    permissions.require(permissions.can_administer(actor))
    with transaction.atomic():
        audit.record(actor, "protected.remove", protected.target, {"reason": protected.reason})
        protected.delete()
