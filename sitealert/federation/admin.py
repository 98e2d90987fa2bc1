"""The operator's view of federation: each source with its state, lag and stale flag and a "pull
now" action; the authorities the sources bring, read-only. Sources are added and removed with
`sitealert source add|remove` (docs/federation.md), which check what they are given."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sitealert.federation.models import FederatedAuthority, Source
from sitealert.federation.pull import is_stale, lag
from sitealert.federation.sources import pull_sources
from sitealert.organizations.staff import OperatorAdmin

STATE = ("upstream_id", "epoch", "version", "upstream_version_at", "last_attempt_at", "last_success_at",
         "last_error", "last_error_at", "stale_alerted_at", "etag", "last_modified", "pending")


@admin.register(Source)
class SourceAdmin(OperatorAdmin):
    operator_can_change = True  # whether and how often it is pulled; the rest is read-only here
    list_display = ("name", "kind", "url", "enabled", "version", "last_success_at", "lag_display", "stale_display",
                    "last_error")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "url")
    fields = ("name", "kind", "url", "token_hint", "contributor", "enabled", "every", "republish",
              "max_removal_share", "lag_display", "stale_display", *STATE, "created_at", "created_by")
    readonly_fields = ("name", "kind", "url", "token_hint", "contributor", "lag_display", "stale_display", *STATE,
                       "created_at", "created_by")
    actions = ["pull_now"]

    @admin.display(description=_("token"))
    def token_hint(self, source):
        """The token is a credential of the other installation: its first characters identify it."""
        return f"{source.token[:6]}…" if source.token else "-"

    @admin.display(description=_("lag"))
    def lag_display(self, source):
        seconds = round(lag(source, timezone.now()))
        return _("%(hours)d h %(minutes)02d min") % {"hours": seconds // 3600, "minutes": seconds % 3600 // 60}

    @admin.display(description=_("stale"), boolean=True)
    def stale_display(self, source):
        return is_stale(source)

    @admin.action(description=_("Pull the selected sources now"), permissions=["moderate"])
    def pull_now(self, request, queryset):
        for result in pull_sources(list(queryset)):
            if result.error:
                self.message_user(request, f"{result.source}: {result.error}", messages.ERROR)
            else:
                self.message_user(request, ngettext(
                    "%(source)s: version %(version)d, %(changed)d listing changed.",
                    "%(source)s: version %(version)d, %(changed)d listings changed.",
                    result.added + result.updated + result.removed) % {
                    "source": result.source, "version": result.version,
                    "changed": result.added + result.updated + result.removed}, messages.SUCCESS)


@admin.register(FederatedAuthority)
class FederatedAuthorityAdmin(OperatorAdmin):
    """What a source brings decides at its own installation: read-only here."""

    list_display = ("organization", "source", "installation_id", "seen_at")
    list_filter = ("source",)
    search_fields = ("organization__name", "organization__origin")
    readonly_fields = ("organization", "source", "installation_id", "seen_at")
