"""The contributor's plain-list sources: their state, and the run held for its confirmation."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sitealert.core.actors import actor_for_request
from sitealert.federation import plainlist
from sitealert.federation.models import Source
from sitealert.organizations import permissions


@login_required
def list_sources(request):
    """A contributor's people see its sources; operator staff see every plain-list source."""
    actor = actor_for_request(request)
    sources = Source.objects.filter(kind=Source.Kind.LIST).select_related("contributor").order_by("name")
    if not permissions.can_moderate(actor):
        permissions.require(permissions.can_see_list_sources(actor, actor.organization), permissions.why_not(actor))
        sources = sources.filter(contributor=actor.organization)
    rows = []
    for source in sources:
        run = plainlist.held_run(source)
        row = {"source": source, "run": run, "can_decide": permissions.can_decide_list_run(actor, source.contributor),
               "share": round(100 * source.max_removal_share)}
        if run:
            row.update(fetched_at=parse_datetime(run["fetched_at"]),
                       percent=round(100 * run["removed"] / max(run["listings"], 1)))
        rows.append(row)
    return render(request, "federation/list_sources.html", {"rows": rows, "organization": actor.organization})


def _decide(request, name, decide):
    actor = actor_for_request(request)
    source = get_object_or_404(Source, kind=Source.Kind.LIST, name=name)
    permissions.require(permissions.can_decide_list_run(actor, source.contributor), permissions.why_not(actor))
    try:
        decide(source, actor, request.POST.get("digest", ""))
    except plainlist.ListRefused as exc:
        messages.error(request, str(exc))


@login_required
@require_POST
def confirm_run(request, name):
    def confirm(source, actor, digest):
        result = plainlist.confirm_pending(source, actor=actor, digest=digest)
        messages.success(request, ngettext(
            "The list was applied: %(added)d new, %(updated)d changed, %(removed)d listing removed.",
            "The list was applied: %(added)d new, %(updated)d changed, %(removed)d listings removed.",
            result.removed) % {"added": result.added, "updated": result.updated, "removed": result.removed})
    _decide(request, name, confirm)
    return redirect("federation:list_sources")


@login_required
@require_POST
def discard_run(request, name):
    def discard(source, actor, digest):
        plainlist.discard_pending(source, actor=actor, digest=digest)
        messages.success(request, _("The run was discarded; your listings are unchanged. A changed list at the "
                                    "source's address is read at the next pull."))
    _decide(request, name, discard)
    return redirect("federation:list_sources")
