"""Authorized users download the aggregated list from the web interface."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import render

from sitealert.core import audit
from sitealert.core.actors import actor_for_request
from sitealert.feed import builder
from sitealert.organizations import permissions


def feed_reader(request):
    actor = actor_for_request(request)
    permissions.require(permissions.can_read_feed(actor), permissions.why_not(actor))
    return actor


@login_required
def download(request):
    actor = feed_reader(request)
    version, checksum = builder.current_checksum()
    org = actor.organization
    return render(request, "feed/download.html", {
        "organization": org, "version": version, "checksum": checksum,
        # Authorized users show a badge that links to their public verification page.
        "has_badge": org is not None and org.is_user and org.approved_at is not None,
        "can_manage_tokens": permissions.can_manage_tokens(actor, actor.organization),
    })


@login_required
def download_file(request, fmt):
    actor = feed_reader(request)
    # Streamed from the cached file: a million-entry list is over 100 MB and must not sit in memory.
    document = builder.open_feed(fmt)
    audit.count(actor, "feed.download", fmt, {"version": document.version})
    response = FileResponse(document.file, content_type=document.content_type, as_attachment=True,
                            filename=f"sitealert-v{document.version}.{fmt}")
    response.block_size = 1 << 20
    response["Content-Encoding"] = "identity"  # GZipMiddleware would otherwise compress it again
    response["X-SiteAlert-Version"] = str(document.version)
    response["X-SiteAlert-Checksum"] = document.checksum
    response["Cache-Control"] = "private, no-store"
    return response
