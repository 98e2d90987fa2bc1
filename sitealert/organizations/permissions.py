"""One permission check per action, used by the web views, the API and the CLI alike.

Each `can_*` function answers a question; `require` turns a `False` into a PermissionDenied whose
message tells the person what is missing.
"""

import hmac
import ipaddress

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from sitealert.core.actors import FEDERATION
from sitealert.organizations.models import ApiToken, Organization


def _active_org(actor, kind=None):
    org = actor.organization
    if org is None or not org.is_active:
        return None
    if kind is not None and org.kind != kind:
        return None
    return org


def can_change_here(actor, organization):
    """Change an organization's listings, procedures, members or tokens on this installation.

    A federated authority decides at its own installation: here only the federation pull
    (`core.actors.federation_actor`) changes what it lists and its procedures, and it has no
    members or tokens. No member, token, import, form, API call, command or staff edit may.
    """
    return organization is None or not organization.is_federated or actor.via == FEDERATION


def read_only_reason(organization):
    """Why a federated authority cannot be changed here, for error messages."""
    return _("%(name)s is a federated authority: it decides at %(installation)s, and its listings, procedures "
             "and members change only there. This installation copies them from that installation.") % {
        "name": organization.name, "installation": organization.origin_installation or organization.origin}


def can_manage_listings(actor, contributor):
    """Add, update and remove the contributor's own listings."""
    org = _active_org(actor, Organization.Kind.CONTRIBUTOR)
    if org is None or contributor is None or org.pk != contributor.pk:
        return False
    if not can_change_here(actor, contributor):
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


def can_see_private_notes(actor, contributor):
    """Read the private notes on a contributor's listings: the contributor itself and the operator.
    The public, authorized users and other contributors never see them."""
    if actor.is_operator:
        return True
    org = _active_org(actor, Organization.Kind.CONTRIBUTOR)
    return org is not None and contributor is not None and org.pk == contributor.pk


def can_see_list_sources(actor, contributor):
    """A contributor's plain-list sources (federation): their state, last error and any run held
    for confirmation. Its people, and operator staff, who answer for the sources they added."""
    return can_manage_listings(actor, contributor) or can_moderate(actor)


def can_decide_list_run(actor, contributor):
    """Apply or discard a plain-list source's run held because it removes many listings: the
    people who manage the contributor's listings, and the server's command line (`sitealert
    source confirm`). Operator staff see the run but leave the decision to the contributor."""
    return can_manage_listings(actor, contributor) or (actor.via == "cli" and actor.user is None)


def can_edit_procedure(actor, organization):
    """A contributor's procedure is maintained by the people who manage its listings, in the
    web interface only: an API token cannot rewrite it."""
    return can_manage_listings(actor, organization) and actor.token is None


def can_see_procedure_authors(actor, organization):
    """The accounts that wrote a procedure's revisions: the contributor's editors and operator staff.
    The public sees the revisions without their authors."""
    return can_edit_procedure(actor, organization) or can_moderate(actor)


def can_answer_reviews(actor, contributor):
    """Read and answer the review requests addressed to a contributor: the people who manage its
    listings (an answer may remove them). Another contributor's case does not exist for them."""
    return can_manage_listings(actor, contributor)


def can_moderate(actor):
    """Operator staff: hold listings, manage protected targets, approve organizations."""
    return actor.is_operator and actor.token is None


def can_administer(actor):
    """Create organizations and accounts, change organizations' status and the protected targets:
    operator staff, or the server's command line (whoever runs it already holds the database)."""
    return can_moderate(actor) or actor.via == "cli"


def can_use_admin(actor):
    """The operator's admin site: an active staff account of the approved operator, signed in
    (never through a token). Being Django staff alone is not enough, see Actor.is_operator."""
    user = actor.user
    return bool(user is not None and user.is_active and user.is_staff and can_moderate(actor))


def can_see_redirects(actor, listings):
    """A target's redirect graph and probe history: operator staff, and the contributors that list
    the target. `listings` are the target's listings (a queryset, read only for a contributor)."""
    if can_moderate(actor):
        return True
    org = actor.organization
    return bool(can_manage_listings(actor, org) and listings.filter(contributor=org).exists())


def can_reset_second_factors(actor):
    """Remove every second factor of an account whose owner lost their device: operator staff, on
    the operator's site."""
    return can_use_admin(actor)


def can_read_outbox(actor):
    """Read the mail a demo installation wrote to files: operator staff, as they read the audit log.
    (The page exists only in demo mode; the mail holds requesters' confirmation links.)"""
    return can_moderate(actor)


def can_manage_tokens(actor, organization):
    """Issue and revoke the API tokens of one's own approved organization, in the web interface only."""
    org = _active_org(actor)
    if actor.token is not None or org is None or organization is None or org.pk != organization.pk:
        return False
    if not can_change_here(actor, organization):
        return False  # its people work at its own installation
    # Operator staff never act as another organization, whatever membership they hold (see
    # can_manage_listings): a token would let them do through the API what the site refuses.
    return not (actor.user is not None and actor.user.is_staff and org.kind != Organization.Kind.OPERATOR)


def can_administer_tokens(actor, organization):
    """Issue and revoke an organization's tokens (the services' own check): its people, as on the
    tokens page (can_manage_tokens), and operator staff and the command line (can_administer), who
    revoke a leaked token of any organization."""
    return can_manage_tokens(actor, organization) or can_administer(actor)


def require(allowed, message=None):
    """Raise PermissionDenied with `message` (or a general one) unless `allowed`."""
    if not allowed:
        raise PermissionDenied(message or _("You do not have permission to do this."))


def why_not(actor):
    """A plain explanation for a refused actor, for error messages."""
    org = actor.organization
    if org is None:
        return _("Your account does not belong to any organization.")
    if not can_change_here(actor, org):
        return read_only_reason(org)
    if org.status == Organization.Status.PENDING:
        return _("Your organization is waiting for approval by the operator.")
    if org.status == Organization.Status.SUSPENDED:
        return _("Your organization is suspended.")
    return _("Your organization or token is not allowed to do this.")


def can_read_metrics(address, bearer, *, networks, token):
    """Read /metrics: a client whose address is in `networks` (SITEALERT_METRICS_ALLOW), or one that
    presents the bearer token SITEALERT_METRICS_TOKEN, when one is configured. Not an organization's
    right: a Prometheus server has no account, and the metrics name no listing or person."""
    if token and bearer and hmac.compare_digest(bearer.encode(), token.encode()):
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)
