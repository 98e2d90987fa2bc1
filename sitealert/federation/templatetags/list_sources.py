"""The listings page's link to the contributor's list sources, and its notice of a held run."""

from django import template

from sitealert.federation.models import Source
from sitealert.federation.plainlist import HELD_STATE

register = template.Library()


@register.inclusion_tag("federation/list_sources_notice.html")
def list_sources_notice(organization):
    """Nothing for a contributor without list sources; a link to them, and the names of those
    whose run waits for confirmation (read without loading the held documents)."""
    if organization is None:
        return {"sources": [], "held": []}
    sources = Source.objects.filter(kind=Source.Kind.LIST, contributor=organization)
    return {"sources": list(sources.values_list("name", flat=True)),
            "held": list(sources.filter(pending__state=HELD_STATE).values_list("name", flat=True))}
