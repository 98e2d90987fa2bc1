"""One permission check per action, used by the web views, the API and the CLI alike.

Each `can_*` function answers a question; `require` turns a `False` into a PermissionDenied whose
message tells the person what is missing.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from sitealert.organizations.models import ApiToken, Organization


def _active_org(actor, kind=None):
    org = actor.organization
    if org is None or not org.is_active:
        return None
    if kind is not None and org.kind != kind:
        return None
    return org


def can_manage_listings(actor, contributor):
    """Add, update and remove the contributor's own listings."""
    org = _active_org(actor, Organization.Kind.CONTRIBUTOR)
    if org is None or contributor is None or org.pk != contributor.pk:
        return False
    if actor.user is not None and actor.user.is_staff:
        return False  # operator staff never act as a contributor, whatever membership they hold
    if actor.token is not None and actor.token.scope != ApiToken.Scope.LISTINGS:
        return False
    return True


def can_read_feed(actor):
    """Download the aggregated list: approved authorized users and the operator."""
    if actor.is_operator:
        return actor.token is None or actor.token.scope == ApiToken.Scope.FEED
    org = _active_org(actor, Organization.Kind.USER)
    if org is None:
        return False
    if actor.token is not None and actor.token.scope != ApiToken.Scope.FEED:
        return False
    return True


def can_see_private_note(actor, listing):
    if actor.is_operator:
        return True
    org = _active_org(actor, Organization.Kind.CONTRIBUTOR)
    return org is not None and org.pk == listing.contributor_id


def can_edit_procedure(actor, organization):
    """A contributor's procedure is maintained by the people who manage its listings, in the
    web interface only: an API token cannot rewrite it."""
    return can_manage_listings(actor, organization) and actor.token is None


def can_moderate(actor):
    """Operator staff: hold listings, manage protected targets, approve organizations."""
    return actor.is_operator and actor.token is None


def can_read_outbox(actor):
    """Read the mail a demo installation wrote to files: operator staff, as they read the audit log.
    (The page exists only in demo mode; the mail holds requesters' confirmation links.)"""
    return can_moderate(actor)


def can_manage_tokens(actor, organization):
    org = _active_org(actor)
    if actor.token is not None or org is None or org.pk != organization.pk:
        return False
    # Operator staff never act as another organization, whatever membership they hold (see
    # can_manage_listings): a token would let them do through the API what the site refuses.
    return not (actor.user is not None and actor.user.is_staff and org.kind != Organization.Kind.OPERATOR)


def require(allowed, message=None):
    if not allowed:
        raise PermissionDenied(message or _("You do not have permission to do this."))


def why_not(actor):
    """A plain explanation for a refused actor, for error messages."""
    org = actor.organization
    if org is None:
        return _("Your account does not belong to any organization.")
    if org.status == Organization.Status.PENDING:
        return _("Your organization is waiting for approval by the operator.")
    if org.status == Organization.Status.SUSPENDED:
        return _("Your organization is suspended.")
    return _("Your organization or token is not allowed to do this.")
