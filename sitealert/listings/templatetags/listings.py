from django import template

from sitealert.core.actors import actor_for_request
from sitealert.organizations import permissions

register = template.Library()


@register.simple_tag(takes_context=True)
def may_manage_listings(context):
    """{% may_manage_listings as allowed %}: whether the signed-in person may work on its organization's
    listings and their monitoring, by the check that listings.views.contributor_actor enforces."""
    request = context.get("request")
    if request is None:
        return False
    actor = actor_for_request(request)
    return permissions.can_manage_listings(actor, actor.organization)
