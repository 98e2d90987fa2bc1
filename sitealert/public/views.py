"""Public pages: check, operating procedures, review requests, statistics, member badges.
Thin: each view parses the request, calls a service and renders the result."""

import csv
import hashlib

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.utils.translation import get_language, get_language_info
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from sitealert.core.actors import actor_for_request, client_ip
from sitealert.listings.models import Listing
from sitealert.organizations import permissions
from sitealert.organizations.models import Organization
from sitealert.public import charts, reviews, services, statistics
from sitealert.public.badges import badge_svg
from sitealert.public.conf import setting
from sitealert.public.forms import AnswerForm, ProcedureForm, ReviewRequestForm
from sitealert.public.models import ProcedureRevision, ReviewCase

TOP_SERIES = 7


def too_many_requests(request, wait):
    minutes = max(1, (wait + 59) // 60)
    message = ngettext("You have made too many requests. Please wait %(minutes)d minute and try again.",
                       "You have made too many requests. Please wait %(minutes)d minutes and try again.",
                       minutes) % {"minutes": minutes}
    response = render(request, "public/too_many.html", {"message": message}, status=429)
    response["Retry-After"] = str(wait)
    return response


# --- Check ----------------------------------------------------------------------------------

def check(request):
    query = request.GET.get("q")
    result = None
    if query is not None:
        wait = services.check_wait(client_ip(request))
        if wait:
            return too_many_requests(request, wait)
        result = services.check_target(query)
    return render(request, "public/check.html", {"query": query or "", "result": result})


# --- Operating procedures -------------------------------------------------------------------

def _contributor(slug):
    return get_object_or_404(services.public_contributors(), slug=slug)


def procedures(request):
    contributors = list(services.public_contributors().prefetch_related("procedures").order_by("country", "name"))
    counts = reviews.review_counts([c.pk for c in contributors])
    rows = []
    for org in contributors:
        languages = {p.language for p in org.procedures.all()}
        rows.append({"org": org, "languages": [(code, name) for code, name in settings.LANGUAGES if code in languages],
                     "reviews": counts.get(org.pk) or reviews.ReviewCounts()})
    return render(request, "public/procedures.html", {"rows": rows})


def procedure(request, slug):
    org = _contributor(slug)
    wanted = request.GET.get("lang")
    if wanted not in services.LANGUAGE_CODES:
        wanted = get_language()
    shown = services.procedure_for(org, wanted)
    actor = actor_for_request(request)
    return render(request, "public/procedure.html", {
        "org": org, "shown": shown, "languages": settings.LANGUAGES,
        "reviews": reviews.review_counts([org.pk]).get(org.pk) or reviews.ReviewCounts(),
        "can_edit": services.can_edit_procedure(actor, org),
        "active_listings": Listing.objects.filter(contributor=org, status=Listing.Status.ACTIVE).count(),
    })


@login_required
def procedure_edit(request, slug, language):
    org = _contributor(slug)
    if language not in services.LANGUAGE_CODES:
        raise Http404
    actor = actor_for_request(request)
    permissions.require(services.can_edit_procedure(actor, org), permissions.why_not(actor))
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
        return redirect(reverse("public:procedure", args=[org.slug]) + f"?lang={language}")
    return render(request, "public/procedure_edit.html", {
        "org": org, "form": form, "language": language,
        "languages": settings.LANGUAGES, "existing": set(org.procedures.values_list("language", flat=True)),
    })


def _show_authors(request, org):
    actor = actor_for_request(request)
    return services.can_edit_procedure(actor, org) or permissions.can_moderate(actor)


def procedure_history(request, slug):
    org = _contributor(slug)
    return render(request, "public/procedure_history.html", {
        "org": org, "revisions": services.procedure_history(org), "show_authors": _show_authors(request, org)})


def procedure_revision(request, slug, pk):
    org = _contributor(slug)
    revision = get_object_or_404(ProcedureRevision.objects.select_related("author"), organization=org, pk=pk)
    return render(request, "public/procedure_revision.html", {
        "org": org, "revision": revision, "show_authors": _show_authors(request, org)})


# --- Review requests ------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def review_new(request):
    if request.method == "POST":
        form = ReviewRequestForm(request.POST)
        valid = form.is_valid()
        wait = reviews.submission_wait(client_ip(request), form.cleaned_data.get("email") if valid else "")
        if wait:
            return too_many_requests(request, wait)
        if form.is_bot:
            return redirect("public:review_sent")
        if valid:
            data = form.cleaned_data
            reviews.submit_review_request(
                query=data["target"], target=form.normalized_target, name=data["name"], email=data["email"],
                relationship=data["relationship"], reasons=data["reasons"], evidence=data["evidence"],
                language=get_language(), ip=client_ip(request))
            return redirect("public:review_sent")
    else:
        form = ReviewRequestForm(initial={"target": request.GET.get("target", "")[:300]})
    return render(request, "public/review_new.html", {
        "form": form, "due_days": setting("REVIEW_DUE_DAYS"),
        "confirm_hours": setting("REVIEW_CONFIRM_HOURS")})


def review_sent(request):
    return render(request, "public/review_sent.html", {"confirm_hours": setting("REVIEW_CONFIRM_HOURS")})


@require_http_methods(["GET", "POST"])
def review_confirm(request, token):
    review = reviews.request_for_confirmation(token)
    if review is None:
        return render(request, "public/review_link_invalid.html", status=404)
    error = None
    if review.confirmed_at is not None:
        error = _("This review request is already confirmed. Follow it with the status link we sent you by e-mail.")
    elif reviews.confirmation_expired(review):
        error = _("This confirmation link has expired. Please submit your request again.")
    elif request.method == "POST":
        try:
            status_token = reviews.confirm_review_request(review, ip=client_ip(request))
        except reviews.ReviewError as exc:
            error = str(exc)
        else:
            messages.success(request, _("Your review request is confirmed and has been sent. Keep the address of "
                                        "this page: it is the only way to follow your request (we also sent it "
                                        "to you by e-mail)."))
            return redirect("public:review_status", token=status_token)
    return render(request, "public/review_confirm.html", {"review": review, "error": error})


def review_status(request, token):
    review = reviews.request_for_status(token)
    if review is None:
        return render(request, "public/review_link_invalid.html", status=404)
    cases = list(review.cases.select_related("contributor").order_by("contributor__name"))
    response = render(request, "public/review_status.html", {"review": review, "cases": cases, "now": timezone.now()})
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "private, no-store"  # the link is the requester's key to the request
    return response


@login_required
def inbox(request):
    actor = actor_for_request(request)
    cases = list(reviews.inbox_cases(actor))
    now = timezone.now()
    return render(request, "public/inbox.html", {
        "org": actor.organization, "open_cases": [c for c in cases if c.is_open],
        "answered_cases": [c for c in cases if not c.is_open], "now": now})


@login_required
@require_http_methods(["GET", "POST"])
def inbox_case(request, pk):
    actor = actor_for_request(request)
    case = get_object_or_404(ReviewCase.objects.select_related("request", "contributor"), pk=pk)
    if not reviews.can_answer(actor, case):
        raise Http404  # another contributor's case does not exist for this account
    form = AnswerForm(request.POST or None)
    if request.method == "POST" and case.is_open and form.is_valid():
        try:
            reviews.answer_case(case, form.cleaned_data["outcome"], form.cleaned_data["explanation"], actor=actor)
        except reviews.ReviewError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Your answer is recorded and the requester has been told."))
            return redirect("public:inbox")
    return render(request, "public/inbox_case.html", {
        "case": case, "review": case.request, "listings": reviews.case_listings(case), "form": form,
        "now": timezone.now()})


# --- Statistics -----------------------------------------------------------------------------

def _listing_tables():
    return statistics.listing_tables(statistics.listing_history())


def _review_table():
    contributors = services.public_contributors().order_by("name")
    counts = reviews.review_counts()
    return statistics.review_table(statistics.review_rows(contributors, counts))


def statistics_page(request):
    history = statistics.listing_history()
    by_country, by_category, monthly = statistics.listing_tables(history)
    review_table = _review_table()
    others = _("Other countries")
    figures = []
    # A single month makes no line: show it as bars.
    over_time = charts.line_chart if len(history.months) > 1 else charts.bar_chart
    if history.months:
        figures = [
            (by_country, over_time(
                "chart-country", by_country.caption,
                _("Chart of active listings per month for the countries with the most listings."),
                history.months, statistics.top_series(history.by_country, history.countries, TOP_SERIES, others))),
            (by_category, over_time(
                "chart-category", by_category.caption, _("Chart of active listings per month for each category."),
                history.months, [(statistics.category_label(c), history.by_category[c]) for c in history.categories])),
            (monthly, charts.bar_chart(
                "chart-monthly", monthly.caption, _("Bar chart of listings added and removed in each month."),
                history.months, [(_("Added"), history.added), (_("Removed by the authority"), history.removed),
                                 (_("Held by the operator"), history.held)])),
        ]
    review_rows = [row for row in review_table.rows if row[2]]
    review_chart = None
    if review_rows:
        review_chart = charts.stacked_bars(
            "chart-reviews", review_table.caption,
            _("Bar chart of review requests per contributor: upheld, removed and awaiting an answer."),
            [row[0] for row in review_rows],
            [(_("Upheld"), [r[3] for r in review_rows]), (_("Removed"), [r[4] for r in review_rows]),
             (_("Awaiting an answer"), [r[5] for r in review_rows])])
    return render(request, "public/statistics.html", {
        "headline": statistics.headline(), "figures": figures, "review_table": review_table,
        "review_chart": review_chart, "online_share": statistics.online_share()})


CSV_TABLES = {
    "listings-by-country": lambda: _listing_tables()[0],
    "listings-by-category": lambda: _listing_tables()[1],
    "monthly-changes": lambda: _listing_tables()[2],
    "review-outcomes": _review_table,
}


def statistics_csv(request, name):
    build = CSV_TABLES.get(name)
    if build is None:
        raise Http404
    table = build()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sitealert-{name}.csv"'
    writer = csv.writer(response)
    writer.writerow([str(h) for h in table.header])
    writer.writerows([[_spreadsheet_safe(value) for value in row] for row in table.rows])
    return response


def _spreadsheet_safe(value):
    """A text cell a spreadsheet program will not run as a formula (an organization's name is typed
    by people): a leading = + - @ tab or carriage return is quoted with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- Member badges --------------------------------------------------------------------------

def _member(slug):
    org = services.verifiable_member(slug)
    if org is None:
        raise Http404
    return org, org.status == Organization.Status.APPROVED


def member(request, slug):
    org, valid = _member(slug)
    page_url = request.build_absolute_uri(reverse("public:member", args=[slug]))
    badge_url = request.build_absolute_uri(reverse("public:member_badge", args=[slug]))
    return render(request, "public/member.html", {
        "org": org, "valid": valid, "page_url": page_url, "badge_url": badge_url, "checked_at": timezone.now()})


def member_badge(request, slug):
    org, valid = _member(slug)
    page_url = request.build_absolute_uri(reverse("public:member", args=[slug]))
    if valid:
        status = _("Authorized user: %(name)s") % {"name": org.name}
        title = _("%(name)s is an authorized user of %(site)s. Verify at %(url)s") % {
            "name": org.name, "site": settings.SITE_NAME, "url": page_url}
    else:
        status = _("NOT VALID: %(name)s is suspended") % {"name": org.name}
        title = _("Not valid: %(name)s is suspended from %(site)s. See %(url)s") % {
            "name": org.name, "site": settings.SITE_NAME, "url": page_url}
    svg = badge_svg(label=settings.SITE_NAME, status=status, valid=valid, link=page_url, title=title)
    etag = quote_etag(hashlib.sha256(svg.encode("utf-8")).hexdigest()[:32])
    # Caches must ask every time (cheaply, with the ETag), so a suspension shows at once.
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        svg, content_type="image/svg+xml; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, no-cache"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
