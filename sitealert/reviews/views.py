"""Review requests: the public form, confirmation and status pages, and the contributor's inbox."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from sitealert.core.actors import actor_for_request, client_ip
from sitealert.core.conf import setting
from sitealert.core.pages import too_many_requests
from sitealert.hosts import InvalidTarget, normalize_target
from sitealert.organizations import permissions
from sitealert.reviews import services
from sitealert.reviews.forms import AnswerForm, ReviewRequestForm
from sitealert.reviews.models import ReviewCase


@require_http_methods(["GET", "POST"])
def review_new(request):
    if request.method == "GET":
        form = ReviewRequestForm(initial={"target": request.GET.get("target", "")[:300]})
        return _review_form(request, form, routes=_review_routes(form.initial["target"]))
    form = ReviewRequestForm(request.POST)
    ip = client_ip(request)
    if form.is_bot or not form.is_valid():
        # Typos cost nothing against the requests a client may send; only a flood of them waits.
        wait = services.invalid_submission_wait(ip)
        if wait:
            return _review_form(request, form, wait=wait, limited="invalid", routes=form.routes)
        if form.is_bot:
            return redirect("reviews:review_sent")
        return _review_form(request, form, routes=form.routes)
    data = form.cleaned_data
    wait = services.submission_wait(ip, data["email"])
    if wait:
        return _review_form(request, form, wait=wait, limited="accepted", routes=form.routes)
    services.submit_review_request(
        query=data["target"], target=form.normalized_target, name=data["name"], email=data["email"],
        relationship=data["relationship"], reasons=data["reasons"], evidence=data["evidence"],
        language=get_language(), ip=ip)
    return redirect("reviews:review_sent")


def _review_routes(query):
    try:
        return services.review_routes(normalize_target(query)) if query else services.NO_ROUTES
    except InvalidTarget:
        return services.NO_ROUTES  # the form says why when it is sent


def _review_form(request, form, *, wait=0, limited=None, routes=services.NO_ROUTES):
    """The form page; over a limit, the same page with status 429, an explanation and the text kept.

    `routes.elsewhere`: the federated authorities that list the target, asked at their own
    installations; when they are its only authorities, the page gives their links instead of the form."""
    context = {"form": form, "limited": limited, "due_days": setting("REVIEW_DUE_DAYS"),
               "confirm_hours": setting("REVIEW_CONFIRM_HOURS"), "routes": routes}
    if wait:
        return too_many_requests(request, wait, "reviews/review_new.html", context)
    return render(request, "reviews/review_new.html", context)


def review_sent(request):
    return render(request, "reviews/review_sent.html", {"confirm_hours": setting("REVIEW_CONFIRM_HOURS")})


@require_http_methods(["GET", "POST"])
def review_confirm(request, token):
    review = services.request_for_confirmation(token)
    if review is None:
        return render(request, "reviews/review_link_invalid.html", status=404)
    error = None
    if review.confirmed_at is not None:
        error = _("This review request is already confirmed. Follow it with the status link we sent you by e-mail.")
    elif services.confirmation_expired(review):
        error = _("This confirmation link has expired. Please submit your request again.")
    elif request.method == "POST":
        try:
            status_token = services.confirm_review_request(review, ip=client_ip(request))
        except services.ReviewError as exc:
            error = str(exc)
        else:
            messages.success(request, _("Your review request is confirmed and has been sent. Keep the address of "
                                        "this page: it is the only way to follow your request (we also sent it "
                                        "to you by e-mail)."))
            return redirect("reviews:review_status", token=status_token)
    return render(request, "reviews/review_confirm.html", {"review": review, "error": error})


def review_status(request, token):
    review = services.request_for_status(token)
    if review is None:
        return render(request, "reviews/review_link_invalid.html", status=404)
    cases = list(review.cases.select_related("contributor").order_by("contributor__name"))
    response = render(request, "reviews/review_status.html", {"review": review, "cases": cases, "now": timezone.now()})
    response["X-Robots-Tag"] = "noindex"
    response["Cache-Control"] = "private, no-store"  # the link is the requester's key to the request
    return response


@login_required
def inbox(request):
    actor = actor_for_request(request)
    cases = list(services.inbox_cases(actor))
    now = timezone.now()
    return render(request, "reviews/inbox.html", {
        "org": actor.organization, "open_cases": [c for c in cases if c.is_open],
        "answered_cases": [c for c in cases if not c.is_open], "now": now})


@login_required
@require_http_methods(["GET", "POST"])
def inbox_case(request, pk):
    actor = actor_for_request(request)
    case = get_object_or_404(ReviewCase.objects.select_related("request", "contributor"), pk=pk)
    if not permissions.can_answer_reviews(actor, case.contributor):
        raise Http404  # another contributor's case does not exist for this account
    form = AnswerForm(request.POST or None)
    if request.method == "POST" and case.is_open and form.is_valid():
        try:
            services.answer_case(case, form.cleaned_data["outcome"], form.cleaned_data["explanation"], actor=actor)
        except services.ReviewError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Your answer is recorded and the requester has been told."))
            return redirect("reviews:inbox")
    return render(request, "reviews/inbox_case.html", {
        "case": case, "review": case.request, "listings": services.case_listings(case), "form": form,
        "now": timezone.now()})
