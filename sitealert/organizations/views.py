"""Authorized users download the aggregated list; every approved organization manages its API tokens."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sitealert.core import audit
from sitealert.core.actors import actor_for_request
from sitealert.feed import builder
from sitealert.organizations import permissions, services
from sitealert.organizations.forms import TokenForm
from sitealert.organizations.models import ApiToken

DOWNLOAD_FORMATS = ("txt", "csv", "json")


def feed_reader(request):
    actor = actor_for_request(request)
    permissions.require(permissions.can_read_feed(actor), permissions.why_not(actor))
    return actor


def token_manager(request):
    actor = actor_for_request(request)
    permissions.require(actor.organization is not None
                        and permissions.can_manage_tokens(actor, actor.organization), permissions.why_not(actor))
    return actor


@login_required
def download(request):
    actor = feed_reader(request)
    version, checksum = builder.current_checksum()
    org = actor.organization
    return render(request, "organizations/download.html", {
        "organization": org, "version": version, "checksum": checksum,
        "formats": DOWNLOAD_FORMATS,
        # Authorized users show a badge that links to their public verification page.
        "has_badge": org is not None and org.is_user and org.approved_at is not None,
        "can_manage_tokens": actor.organization is not None
        and permissions.can_manage_tokens(actor, actor.organization),
    })


@login_required
def download_file(request, fmt):
    actor = feed_reader(request)
    # Streamed from the cached file: a million-entry list is over 100 MB and must not sit in memory.
    document = builder.open_feed(fmt)
    audit.record(actor, "feed.download", fmt, {"version": document.version})
    response = FileResponse(document.file, content_type=document.content_type, as_attachment=True,
                            filename=f"sitealert-v{document.version}.{fmt}")
    response.block_size = 1 << 20
    response["Content-Encoding"] = "identity"  # GZipMiddleware would otherwise compress it again
    response["X-SiteAlert-Version"] = str(document.version)
    response["X-SiteAlert-Checksum"] = document.checksum
    response["Cache-Control"] = "private, no-store"
    return response


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
