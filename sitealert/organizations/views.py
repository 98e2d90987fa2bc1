"""Every approved organization manages its API tokens; authorized users show a verifiable member badge."""

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
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sitealert.core.actors import actor_for_request
from sitealert.organizations import permissions, services
from sitealert.organizations.badges import badge_svg
from sitealert.organizations.forms import TokenForm
from sitealert.organizations.models import ApiToken, Organization


def token_manager(request):
    actor = actor_for_request(request)
    permissions.require(permissions.can_manage_tokens(actor, actor.organization), permissions.why_not(actor))
    return actor


@login_required
@never_cache
def tokens(request):
    actor = token_manager(request)
    org = actor.organization
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = services.issue_token(org, name=form.cleaned_data["name"],
                                                 days=form.cleaned_data["days"] or None, actor=actor)
        except services.OrganizationError as exc:
            form.add_error(None, str(exc))
        else:
            # Rendered, not redirected: the secret exists only in this response.
            return render(request, "organizations/token_created.html", {"token": token, "secret": secret})
    return render(request, "organizations/tokens.html", {
        "organization": org, "form": form, "scope_label": ApiToken.Scope(services.default_scope(org)).label,
        "tokens": org.tokens.select_related("created_by").order_by("revoked_at", "-created_at"),
    }, status=400 if form.errors else 200)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def token_revoke(request, pk):
    """GET asks for confirmation (a revoked token stops every program that uses it); POST revokes."""
    actor = token_manager(request)
    token = get_object_or_404(ApiToken, pk=pk, organization=actor.organization)
    if request.method == "GET":
        if token.revoked_at:
            messages.info(request, _("The token starting with %(hint)s is already revoked.") % {"hint": token.hint})
            return redirect("tokens")
        return render(request, "organizations/token_revoke.html", {"token": token})
    services.revoke_token(token, actor=actor)
    messages.success(request, _("The token starting with %(hint)s is revoked.") % {"hint": token.hint})
    return redirect("tokens")


# --- Member badges --------------------------------------------------------------------------

def _member(slug):
    org = services.verifiable_member(slug)
    if org is None:
        raise Http404
    return org, org.status == Organization.Status.APPROVED


def member(request, slug):
    org, valid = _member(slug)
    page_url = request.build_absolute_uri(reverse("member", args=[slug]))
    badge_url = request.build_absolute_uri(reverse("member_badge", args=[slug]))
    return render(request, "organizations/member.html", {
        "org": org, "valid": valid, "page_url": page_url, "badge_url": badge_url, "checked_at": timezone.now()})


def member_badge(request, slug):
    org, valid = _member(slug)
    page_url = request.build_absolute_uri(reverse("member", args=[slug]))
    if valid:
        status = _("Authorized user: %(name)s") % {"name": org.name}
        title = _("%(name)s is an authorized user of %(site)s. Verify at %(url)s") % {
            "name": org.name, "site": settings.SITE_NAME, "url": page_url}
    else:
        status = _("NOT VALID: %(name)s is suspended") % {"name": org.name}
        title = _("Not valid: %(name)s is suspended from %(site)s. See %(url)s") % {
            "name": org.name, "site": settings.SITE_NAME, "url": page_url}
    svg = badge_svg(label=settings.SITE_NAME, status=status, valid=valid, link=page_url, title=title,
                    rtl=get_language_bidi())
    etag = quote_etag(hashlib.sha256(svg.encode("utf-8")).hexdigest()[:32])
    # Caches must ask every time (cheaply, with the ETag), so a suspension shows at once.
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        svg, content_type="image/svg+xml; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, no-cache"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
