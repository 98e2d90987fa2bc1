"""The operator's site: its home page opens with what waits for operator staff, and the audit log
reads in the operator's language."""

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, ngettext, pgettext_lazy

from sitealert.core import audit
from sitealert.core.models import AuditEvent, AuditItem
from sitealert.listings.models import Listing
from sitealert.organizations.models import Organization
from sitealert.organizations.staff import OperatorAdmin, is_operator_staff
from sitealert.reviews.models import ReviewCase

admin.site.site_header = _("SiteAlert administration")
admin.site.site_title = _("SiteAlert administration")
admin.site.index_title = _("Operator tools")
# The home page opens with what waits for the operator (waiting_work below).
admin.site.index_template = "admin/sitealert/index.html"

# Django's own Chinese catalog lacks these admin strings (among them the app list's screen-reader
# column headers), so our catalogs carry them; where Django has a translation, it wins, and ours
# repeats it word for word. tests/i18n/test_i18n_admin.py keeps every admin string translated.
DJANGO_ADMIN_STRINGS = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("Error:"),
    gettext_noop("Forgotten your login credentials?"),
    gettext_noop("In case you’ve forgotten, you are:"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
)


# What each recorded action and channel is called in the admin. The log keeps the codes, which stay
# searchable and filterable; a code without a label here is shown as it is.
ACTION_LABELS = {
    "feed.download": pgettext_lazy("audit action", "Feed downloaded"),
    "import.csv": pgettext_lazy("audit action", "CSV file imported"),
    "listing.submit": pgettext_lazy("audit action", "Listings submitted"),
    "listing.remove": pgettext_lazy("audit action", "Listings removed"),
    "listing.hold": pgettext_lazy("audit action", "Listing held for review"),
    "listing.release": pgettext_lazy("audit action", "Listing released"),
    "protected.add": pgettext_lazy("audit action", "Protected target added"),
    "protected.remove": pgettext_lazy("audit action", "Protected target removed"),
    "organization.create": pgettext_lazy("audit action", "Organization created"),
    "organization.update": pgettext_lazy("audit action", "Organization changed"),
    "organization.status": pgettext_lazy("audit action", "Organization status changed"),
    "member.create": pgettext_lazy("audit action", "Account created"),
    "member.add": pgettext_lazy("audit action", "Member added"),
    "member.update": pgettext_lazy("audit action", "Membership changed"),
    "member.remove": pgettext_lazy("audit action", "Member removed"),
    "account.factor_add": pgettext_lazy("audit action", "Second factor added"),
    "account.factor_remove": pgettext_lazy("audit action", "Second factor removed"),
    "account.factor_reset": pgettext_lazy("audit action", "Second factors reset by the operator"),
    "account.recovery_codes": pgettext_lazy("audit action", "Recovery codes issued"),
    "account.recovery_code_used": pgettext_lazy("audit action", "Recovery code used"),
    "token.create": pgettext_lazy("audit action", "API token created"),
    "token.revoke": pgettext_lazy("audit action", "API token revoked"),
    "database.restore": pgettext_lazy("audit action", "Database restored from a backup"),
    "procedure.update": pgettext_lazy("audit action", "Procedure updated"),
    "review.submit": pgettext_lazy("audit action", "Review request submitted"),
    "review.confirm": pgettext_lazy("audit action", "Review request confirmed"),
    "review.answer": pgettext_lazy("audit action", "Review request answered"),
    "monitoring.stale_confirm": pgettext_lazy("audit action", "Offline listings kept"),
    "monitoring.candidate_list": pgettext_lazy("audit action", "Hopping candidate listed"),
    "monitoring.candidate_dismiss": pgettext_lazy("audit action", "Hopping candidate dismissed"),
    "source.list_hold": pgettext_lazy("audit action", "List source run held for confirmation"),
    "source.list_confirm": pgettext_lazy("audit action", "Held list source run applied"),
    "source.list_discard": pgettext_lazy("audit action", "Held list source run discarded"),
    "federation.pull": pgettext_lazy("audit action", "Federation source pulled"),
    "federation.source.add": pgettext_lazy("audit action", "Federation source added"),
    "federation.source.remove": pgettext_lazy("audit action", "Federation source removed"),
}
CHANNEL_LABELS = {
    "web": pgettext_lazy("audit channel", "Website"),
    "api": pgettext_lazy("audit channel", "API"),
    "cli": pgettext_lazy("audit channel", "Command line"),
    "worker": pgettext_lazy("audit channel", "Background worker"),
    "federation": pgettext_lazy("audit channel", "Federation"),
}


def action_label(code):
    return ACTION_LABELS.get(code, code)


def channel_label(code):
    return CHANNEL_LABELS.get(code, code)


def labelled_code(label, code):
    """A label for people, followed by the code the log stores, for operators who search by it."""
    if not code:
        return "-"
    if str(label) == code:
        return format_html("<code>{}</code>", code)
    return format_html('<span title="{}">{}</span> <small class="quiet"><code>{}</code></small>', code, label, code)


class LabelledValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by each value in the column, showing each value's label (`label`) instead of its code."""

    label = staticmethod(str)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lookup_choices = list(self.lookup_choices)

    def choices(self, changelist):
        codes = [str(value) for value in self.lookup_choices if value is not None]
        for i, choice in enumerate(super().choices(changelist)):
            if 1 <= i <= len(codes):  # after "All", one choice per value, displayed as the value (count)
                code = codes[i - 1]
                label = self.label(code) if code else self.empty_value_display
                choice = {**choice, "display": f"{label}{choice['display'][len(code):]}"}
            yield choice


class ActionFilter(LabelledValuesFilter):
    label = staticmethod(action_label)


class ChannelFilter(LabelledValuesFilter):
    label = staticmethod(channel_label)


def waiting_work(request):
    """What waits for operator staff, as (label, count, changelist address) with a count above zero.

    Organizations to approve, listings held for review (of a protected target), and review
    cases past their due date: the contributor has not answered in time, the operator follows up.
    """
    if not is_operator_staff(request):
        return []
    work = [
        (_("Organizations awaiting approval"), Organization.objects.filter(status=Organization.Status.PENDING),
         "admin:organizations_organization_changelist", "status__exact=pending"),
        (_("Listings held for review"), Listing.objects.filter(status=Listing.Status.HELD),
         "admin:listings_listing_changelist", "status__exact=held"),
        (_("Review cases past their due date"), ReviewCase.overdue(),
         "admin:reviews_reviewcase_changelist", "overdue=yes"),
    ]
    return [(label, count, f"{reverse(url)}?{query}") for label, queryset, url, query in work
            if (count := queryset.count())]


@admin.register(AuditEvent)
class AuditEventAdmin(OperatorAdmin):
    list_display = ("created_at", "action_display", "object_repr", "user", "organization", "via_display",
                    "token_hint", "ip_address")
    list_filter = (("action", ActionFilter), ("via", ChannelFilter))
    search_fields = ("object_repr", "action", "user__username", "organization__name")
    date_hierarchy = "created_at"
    list_select_related = ("user", "organization")
    readonly_fields = [{"action": "action_display", "via": "via_display"}.get(f.name, f.name)
                       for f in AuditEvent._meta.fields] + ["items"]
    ITEMS_SHOWN = 50

    @admin.display(description=AuditEvent._meta.get_field("action").verbose_name, ordering="action")
    def action_display(self, event):
        return labelled_code(action_label(event.action), event.action)

    @admin.display(description=AuditEvent._meta.get_field("via").verbose_name, ordering="via")
    def via_display(self, event):
        return labelled_code(channel_label(event.via), event.via)

    def get_search_results(self, request, queryset, search_term):
        """A search also finds the events whose objects match: "pirate.example" finds the upload
        that listed it (the listing's creation event) and every event with an item for it. It
        finds actions by their label in the reader's language too ("removed")."""
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term:
            found = Q(pk__in=AuditItem.objects.filter(object_repr__icontains=search_term).values("event_id"))
            for search in audit.SEARCHES:
                found |= Q(pk__in=search(search_term))
            term = search_term.strip().casefold()
            labelled = [code for code, label in ACTION_LABELS.items() if term in str(label).casefold()]
            queryset |= self.model.objects.filter(found | Q(action__in=labelled))
        return queryset, duplicates

    @admin.display(description=_("items"))
    def items(self, event):
        """The objects the event covers: the listings it created, then its items, a few of each."""
        parts = [part for part in (
            self._block(event.created_listings, "admin:listings_listing_changelist", "creation_event",
                        lambda listing: (listing.target, pgettext_lazy("audit", "created")),
                        lambda n: ngettext("All %(count)d listing it created",
                                           "All %(count)d listings it created", n)),
            self._block(event.items, "admin:core_audititem_changelist", "event",
                        lambda item: (item.object_repr, item.detail),
                        lambda n: ngettext("All %(count)d item", "All %(count)d items", n)),
        ) if part]
        return format_html_join("", "{}", ((part,) for part in parts)) if parts else "-"

    def _block(self, related, changelist, field, line, all_text):
        """The first few of an event's related objects and a link to the changelist showing all."""
        count = related.count()
        if not count:
            return None
        lines = format_html_join("", "<li>{} <code>{}</code></li>",
                                 (line(obj) for obj in related.order_by("id")[:self.ITEMS_SHOWN]))
        link = f"{reverse(changelist)}?{field}__id__exact={related.instance.pk}"
        return format_html('<ul>{}</ul><p><a href="{}">{}</a></p>', lines, link,
                           all_text(count) % {"count": count})


@admin.register(AuditItem)
class AuditItemAdmin(OperatorAdmin):
    list_display = ("object_repr", "detail", "action_display", "event")
    search_fields = ("object_repr",)
    list_select_related = ("event",)
    readonly_fields = [f.name for f in AuditItem._meta.fields] + ["action_display"]
    show_full_result_count = False

    @admin.display(description=AuditEvent._meta.get_field("action").verbose_name)
    def action_display(self, item):
        return labelled_code(action_label(item.event.action), item.event.action)
