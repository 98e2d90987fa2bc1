"""The contributor's pages: its listings (search, add, remove) and the CSV upload."""

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from sitealert.core.actors import actor_for_request
from sitealert.hosts import normalize_target
from sitealert.listings import csv_import, services
from sitealert.listings.forms import ListingEntryForm, ListingFilterForm, RemoveForm, UploadForm
from sitealert.listings.models import Category, Listing
from sitealert.organizations import permissions

PAGE_SIZE = 50
REPORT_DISPLAY_LIMIT = 1000

ROW_STATUS_LABELS = {
    services.ACCEPTED: gettext_lazy("accepted"),
    services.UNCHANGED: gettext_lazy("unchanged"),
    services.HELD: gettext_lazy("held"),
    services.REJECTED: gettext_lazy("rejected"),
}
# When nothing was applied (a dry run, or a file with rejected rows), say what *would* happen.
PREVIEW_STATUS_LABELS = {
    **ROW_STATUS_LABELS,
    services.ACCEPTED: gettext_lazy("would be accepted"),
    services.HELD: gettext_lazy("would be held"),
}


def contributor_actor(request):
    """The request's actor, if it may manage its own organization's listings; otherwise 403."""
    actor = actor_for_request(request)
    permissions.require(permissions.can_manage_listings(actor, actor.organization), permissions.why_not(actor))
    return actor


def _listing_page(request, actor, entry_form=None, remove_form=None, params=None):
    """The list, filtered and paged by `params` (the page's query string; by default the request's).

    A failed form post re-renders it at the form's URL, so its links then point back to the list."""
    params = request.GET if params is None else params
    filters = ListingFilterForm(params or None)
    listings = Listing.objects.filter(contributor=actor.organization).order_by("target")
    if filters.is_valid():
        if filters.cleaned_data["q"]:
            listings = listings.filter(target__icontains=filters.cleaned_data["q"].strip().lower())
        if filters.cleaned_data["status"]:
            listings = listings.filter(status=filters.cleaned_data["status"])
        if filters.cleaned_data["category"]:
            listings = listings.filter(category=filters.cleaned_data["category"])
    page = Paginator(listings, PAGE_SIZE).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    return render(request, "listings/listing_list.html", {
        "organization": actor.organization,
        "show_notes": permissions.can_see_private_notes(actor, actor.organization),
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "query_params": query,
        "page_url": reverse("listings") if request.method == "POST" else "",
        "return_url": _list_url(params),
        "entry_form": entry_form or ListingEntryForm(),
        "remove_form": remove_form or RemoveForm(),
        "selected": set(request.POST.getlist("listing")) if remove_form is not None else set(),
    }, status=400 if (entry_form or remove_form) else 200)


def _list_url(params):
    url = reverse("listings")
    return f"{url}?{params.urlencode()}" if params else url


def _returned_params(request):
    """The filter and page of the list a form was sent from (its `next` field), if it is this list."""
    url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        parts = urlsplit(url)
        if parts.path == reverse("listings"):
            return QueryDict(parts.query)
    return QueryDict()


@login_required
def listing_list(request):
    return _listing_page(request, contributor_actor(request))


@login_required
@require_POST
def listing_add(request):
    actor = contributor_actor(request)
    form = ListingEntryForm(request.POST)
    params = _returned_params(request)
    if not form.is_valid():
        return _listing_page(request, actor, entry_form=form, params=params)
    data = form.cleaned_data
    existed = Listing.objects.filter(contributor=actor.organization, target=normalize_target(data["target"]),
                                     status=Listing.Status.ACTIVE).exists()
    entry = services.EntryInput(target=data["target"], category=data["category"], reference=data["reference"],
                                note=data["note"], review_after=data["review_after"])
    report = services.submit_entries(actor.organization, [entry], actor=actor)
    row = report.rows[0]
    if row.status == services.REJECTED:
        form.add_error("target" if row.target is None else None, row.reason)
        return _listing_page(request, actor, entry_form=form, params=params)
    if row.status == services.HELD:
        messages.warning(request, _("%(target)s is held: %(reason)s") % {"target": row.target, "reason": row.reason})
    elif row.status == services.UNCHANGED:
        messages.info(request, _("%(target)s is already listed with these details; nothing changed.") % {
            "target": row.target})
    elif existed:
        messages.success(request, _("%(target)s was already listed; its category, reference, review date and note "
                                    "are now the ones you entered.") % {"target": row.target})
    else:
        messages.success(request, _("%(target)s is listed.") % {"target": row.target})
    return redirect(_list_url(params))


@login_required
@require_POST
def listing_remove(request):
    actor = contributor_actor(request)
    form = RemoveForm(request.POST)
    params = _returned_params(request)
    ids = [i for i in request.POST.getlist("listing") if i.isdigit()]
    if not ids:
        messages.error(request, _("Select at least one listing to remove."))
        return redirect(_list_url(params))
    chosen = list(Listing.objects.filter(contributor=actor.organization, pk__in=ids).values_list("target", flat=True))
    if len(chosen) != len(set(ids)):
        raise Http404(_("No such listing."))
    if not form.is_valid():
        return _listing_page(request, actor, remove_form=form, params=params)
    report = services.remove_listings(actor.organization, chosen, form.cleaned_data["reason"], actor=actor,
                                      accept_valid_rows=True)
    if report.error:
        messages.error(request, report.error)
    else:
        removed = report.counts[services.ACCEPTED]
        messages.success(request, _("Removed: %(removed)d. Already removed: %(unchanged)d.") % {
            "removed": removed, "unchanged": report.counts[services.UNCHANGED]})
    return redirect(_list_url(params))


@login_required
def listing_upload(request):
    actor = contributor_actor(request)
    report = None
    status = 200
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            report = csv_import.import_csv(
                actor.organization, form.cleaned_data["file"].read(), actor=actor,
                dry_run=form.cleaned_data["dry_run"], accept_valid_rows=form.cleaned_data["accept_valid_rows"])
            if report.error:
                status = 400
        else:
            status = 400
    else:
        form = UploadForm()
    return render(request, "listings/upload.html", {
        "organization": actor.organization, "form": form, "report": report,
        "report_rows": _displayed_rows(report), "categories": Category.choices,
    }, status=status)


def _displayed_rows(report):
    """All rows of a small report; for a large one, the rows that need attention."""
    if report is None or report.error:
        return []
    rows = report.rows
    if len(rows) > REPORT_DISPLAY_LIMIT:
        rows = [r for r in rows if r.status in (services.REJECTED, services.HELD)]
    labels = ROW_STATUS_LABELS if report.applied else PREVIEW_STATUS_LABELS
    return [(r, labels[r.status]) for r in rows[:REPORT_DISPLAY_LIMIT]]
