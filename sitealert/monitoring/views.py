"""Monitoring pages: a contributor's status overview, stale-entry review and hopping candidates,
and the redirect graph of a target."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from sitealert.core.actors import actor_for_request
from sitealert.core.conf import setting
from sitealert.hosts import InvalidTarget, normalize_target
from sitealert.listings import services as listing_services
from sitealert.listings.views import contributor_actor
from sitealert.monitoring import graph as graph_svg
from sitealert.monitoring import services
from sitealert.monitoring.forms import CandidateListForm, StaleActionForm, StatusFilterForm
from sitealert.monitoring.models import ProbeTarget, Status

PAGE_SIZE = 50
STALE_DISPLAY_LIMIT = 500


def _candidate_form(candidate, data=None):
    return CandidateListForm(data, prefix=f"candidate-{candidate.pk}",
                             initial={"category": services.source_category(candidate)})


def _dashboard(request, actor, stale_form=None, failed_candidate=None, status=200):
    contributor = actor.organization
    filters = StatusFilterForm(request.GET or None)
    wanted = filters.cleaned_data["status"] if filters.is_valid() else ""
    page = Paginator(services.monitored_listings(contributor, wanted), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    stale = services.stale_listings(contributor)
    candidates = [(c, failed_candidate[1] if failed_candidate and failed_candidate[0] == c.pk else _candidate_form(c))
                  for c in services.open_candidates(contributor)]
    return render(request, "monitoring/dashboard.html", {
        "organization": contributor,
        "counts": services.status_counts(contributor),
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        # A failed form post shows the dashboard at the form's URL: its page links go back to the dashboard.
        "page_url": reverse("monitoring:dashboard") if request.method == "POST" else "",
        "stale": stale[:STALE_DISPLAY_LIMIT],
        "stale_total": stale.count(),
        "stale_days": setting("MONITOR_STALE_DAYS"),
        "stale_form": stale_form or StaleActionForm(),
        "selected": set(request.POST.getlist("listing")) if stale_form is not None else set(),
        "candidates": candidates,
    }, status=status)


@login_required
def dashboard(request):
    return _dashboard(request, contributor_actor(request))


@login_required
@require_POST
def stale_action(request):
    actor = contributor_actor(request)
    form = StaleActionForm(request.POST)
    ids = [i for i in request.POST.getlist("listing") if i.isdigit()]
    if not form.is_valid():
        return _dashboard(request, actor, stale_form=form, status=400)
    if not ids:
        messages.error(request, _("Select at least one listing."))
        return redirect("monitoring:dashboard")
    if form.cleaned_data["action"] == StaleActionForm.CONFIRM:
        count = services.confirm_stale(actor.organization, ids, actor=actor)
        messages.success(request, ngettext(
            "%(count)d listing confirmed; it leaves this review until it has been offline another %(days)d days.",
            "%(count)d listings confirmed; they leave this review until they have been offline another %(days)d "
            "days.", count) % {"count": count, "days": setting("MONITOR_STALE_DAYS")})
    else:
        report = services.remove_stale(actor.organization, ids, form.cleaned_data["reason"], actor=actor)
        removed = report.counts[listing_services.ACCEPTED]
        messages.success(request, ngettext("%(count)d listing removed.", "%(count)d listings removed.",
                                           removed) % {"count": removed})
    return redirect("monitoring:dashboard")


@login_required
@require_POST
def candidate_list(request, pk):
    actor = contributor_actor(request)
    candidate = next((c for c in services.open_candidates(actor.organization) if c.pk == pk), None)
    if candidate is None:
        raise Http404(_("No such hopping candidate."))
    form = _candidate_form(candidate, request.POST)
    if not form.is_valid():
        return _dashboard(request, actor, failed_candidate=(pk, form), status=400)
    try:
        report = services.list_candidate(actor.organization, pk, reference=form.cleaned_data["reference"],
                                         category=form.cleaned_data["category"], actor=actor)
    except services.CandidateGone:
        raise Http404(_("No such hopping candidate.")) from None
    row = report.rows[0]
    if row.status == listing_services.REJECTED:
        messages.error(request, _("%(target)s was not listed: %(reason)s") % {"target": candidate.target,
                                                                                "reason": row.reason})
    elif row.status == listing_services.HELD:
        messages.warning(request, _("%(target)s is held: %(reason)s") % {"target": row.target, "reason": row.reason})
    else:
        messages.success(request, _("%(target)s is listed.") % {"target": row.target})
    return redirect("monitoring:dashboard")


@login_required
@require_POST
def candidate_dismiss(request, pk):
    actor = contributor_actor(request)
    try:
        services.dismiss_candidate(actor.organization, pk, actor=actor)
    except services.CandidateGone:
        raise Http404(_("No such hopping candidate.")) from None
    messages.success(request, _("The hopping candidate was dismissed."))
    return redirect("monitoring:dashboard")


def _graph_labels():
    return {"listed": _("listed"), "unlisted": _("not listed"), **{s.value: s.label for s in Status}}


@login_required
def graph(request, target):
    actor = actor_for_request(request)
    try:
        target = normalize_target(target)
    except InvalidTarget:
        raise Http404(_("Not a valid target.")) from None
    nodes, edges = services.redirect_family(target, actor=actor)
    pairs = [(e.from_host, e.to_host, e.count) for e in edges]
    description = _("%(hosts)d sites and %(edges)d redirects between registrable domains.") % {
        "hosts": len(nodes), "edges": len(edges)}
    if pairs:
        description += " " + "; ".join(f"{a} → {b}" for a, b, _count in pairs[:50])
    svg = graph_svg.render_svg(target, nodes, pairs, title=_("Redirect graph of %(target)s") % {"target": target},
                               description=description, labels=_graph_labels())
    probe_target = ProbeTarget.objects.filter(target=target).first()
    return render(request, "monitoring/graph.html", {
        "target": target,
        "svg": mark_safe(svg),  # built by graph.render_svg, which escapes every label
        "rows": [(edge, nodes[edge.to_host]["listed"]) for edge in edges],
        "probe_target": probe_target,
        "history": services.history_summary(probe_target) if probe_target else None,
    })
