"""Operating procedures: the public database, each contributor's page, its editor and history."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext as _

from sitealert.core.actors import actor_for_request
from sitealert.listings.models import Listing
from sitealert.organizations import permissions
from sitealert.organizations.services import public_contributors
from sitealert.procedures import services
from sitealert.procedures.forms import ProcedureForm, ProcedureSearchForm
from sitealert.procedures.models import ProcedureRevision
from sitealert.reviews.services import ReviewCounts, review_counts, reviews_elsewhere


def _contributor(slug):
    return get_object_or_404(public_contributors(), slug=slug)


def procedures(request):
    everyone = public_contributors()
    form = ProcedureSearchForm(request.GET, countries=everyone.values_list("country", flat=True))
    form.is_valid()  # a value not on offer is reported beside its field and left out of the search
    data = form.cleaned_data
    found = services.find_contributors(everyone, country=data.get("country", ""), language=data.get("language", ""),
                                       text=data.get("q", ""))
    contributors = list(found.prefetch_related("procedures").order_by("country", "name"))
    counts = review_counts([c.pk for c in contributors])
    rows = []
    for org in contributors:
        languages = {p.language for p in org.procedures.all()}
        rows.append({"org": org, "languages": [(code, name) for code, name in settings.LANGUAGES if code in languages],
                     "reviews": counts.get(org.pk) or ReviewCounts()})
    return render(request, "procedures/procedures.html", {
        "rows": rows, "search": form, "total": everyone.count()})


def procedure(request, slug):
    org = _contributor(slug)
    wanted = request.GET.get("lang")
    if wanted not in services.LANGUAGE_CODES:
        wanted = get_language()
    shown = services.procedure_for(org, wanted)
    actor = actor_for_request(request)
    return render(request, "procedures/procedure.html", {
        "org": org, "shown": shown, "languages": settings.LANGUAGES,
        "reviews": review_counts([org.pk]).get(org.pk) or ReviewCounts(),
        "review_elsewhere": reviews_elsewhere("", [org]),  # a federated authority's own form, no target yet
        "can_edit": permissions.can_edit_procedure(actor, org),
        "active_listings": Listing.objects.filter(contributor=org, status=Listing.Status.ACTIVE).count(),
        # ?lang= picks a version against the interface language; a switch of that language drops it,
        # so the page follows the new language when the procedure exists in it.
        "language_switch_next": request.path,
    })


@login_required
def procedure_edit(request, slug, language):
    org = _contributor(slug)
    if language not in services.LANGUAGE_CODES:
        raise Http404
    actor = actor_for_request(request)
    permissions.require(permissions.can_edit_procedure(actor, org), permissions.why_not(actor))
    current = org.procedures.filter(language=language).first()
    initial = {name: getattr(current, name) for name in ProcedureRevision.FIELDS} if current else {}
    form = ProcedureForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        revision = services.save_procedure(org, language, form.cleaned_data, actor=actor)
        if revision is None:
            messages.info(request, _("Nothing changed."))
        else:
            messages.success(request, _("The procedure in %(language)s is published.") % {
                "language": get_language_info(language)["name_translated"]})
        return redirect(reverse("procedures:procedure", args=[org.slug]) + f"?lang={language}")
    return render(request, "procedures/procedure_edit.html", {
        "org": org, "form": form, "language": language,
        "languages": settings.LANGUAGES, "existing": set(org.procedures.values_list("language", flat=True)),
    })


def _show_authors(request, org):
    return permissions.can_see_procedure_authors(actor_for_request(request), org)


def procedure_history(request, slug):
    org = _contributor(slug)
    return render(request, "procedures/procedure_history.html", {
        "org": org, "revisions": services.procedure_history(org), "show_authors": _show_authors(request, org)})


def procedure_revision(request, slug, pk):
    org = _contributor(slug)
    revision = get_object_or_404(ProcedureRevision.objects.select_related("author"), organization=org, pk=pk)
    return render(request, "procedures/procedure_revision.html", {
        "org": org, "revision": revision, "show_authors": _show_authors(request, org)})
