"""The operator's admin site: access for operator staff, actions that go through the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy

from sitealert.core.actors import actor_for_request
from sitealert.core.models import AuditEvent, AuditItem
from sitealert.organizations import permissions

admin.site.site_header = _("SiteAlert administration")
admin.site.site_title = _("SiteAlert administration")
admin.site.index_title = _("Operator tools")
# The home page opens with what waits for the operator (waiting_work below).
admin.site.index_template = "admin/sitealert/index.html"


def is_operator_staff(request):
    user = request.user
    return bool(user.is_active and user.is_staff and permissions.can_moderate(actor_for_request(request)))


class OperatorAdmin(admin.ModelAdmin):
    """Visible to operator staff; what they may add, change or delete is declared per model."""

    operator_can_add = False
    operator_can_change = False
    operator_can_delete = False

    def has_module_permission(self, request):
        return is_operator_staff(request)

    def has_view_permission(self, request, obj=None):
        return is_operator_staff(request)

    def has_add_permission(self, request):
        return self.operator_can_add and is_operator_staff(request)

    def has_change_permission(self, request, obj=None):
        return self.operator_can_change and is_operator_staff(request)

    def has_delete_permission(self, request, obj=None):
        return self.operator_can_delete and is_operator_staff(request)

    def has_moderate_permission(self, request):
        return is_operator_staff(request)


def apply_to_each(modeladmin, request, queryset, apply, done_message):
    """Call `apply(obj, actor)` for each selected object; report failures one by one."""
    actor = actor_for_request(request)
    done = 0
    for obj in queryset:
        try:
            apply(obj, actor)
        except (ValueError, PermissionDenied) as exc:
            modeladmin.message_user(request, f"{obj}: {exc}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message(done), messages.SUCCESS)


def waiting_work(request):
    """What waits for operator staff, as (label, count, changelist address) with a count above zero.

    Organizations to approve, listings held for review (of a protected target), and review
    cases past their due date: the contributor has not answered in time, the operator follows up.
    """
    from sitealert.listings.models import Listing
    from sitealert.organizations.models import Organization
    from sitealert.public.models import ReviewCase

    if not is_operator_staff(request):
        return []
    work = [
        (_("Organizations awaiting approval"), Organization.objects.filter(status=Organization.Status.PENDING),
         "admin:organizations_organization_changelist", "status__exact=pending"),
        (_("Listings held for review"), Listing.objects.filter(status=Listing.Status.HELD),
         "admin:listings_listing_changelist", "status__exact=held"),
        (_("Review cases past their due date"), ReviewCase.overdue(),
         "admin:public_reviewcase_changelist", "overdue=yes"),
    ]
    return [(label, count, f"{reverse(url)}?{query}") for label, queryset, url, query in work
            if (count := queryset.count())]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}))


def apply_with_reason(modeladmin, request, queryset, apply, done_message, *, title, submit_label):
    """An admin action that first asks for a reason on an intermediate page, then applies it."""
    if "apply" in request.POST:
        form = ReasonForm(request.POST)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            apply_to_each(modeladmin, request, queryset, lambda obj, actor: apply(obj, reason, actor), done_message)
            return None
    else:
        form = ReasonForm()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": request.POST.get("action", ""),
        "submit_label": submit_label,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/sitealert/reason_action.html", context)


@admin.register(AuditEvent)
class AuditEventAdmin(OperatorAdmin):
    list_display = ("created_at", "action", "object_repr", "user", "organization", "via", "token_hint", "ip_address")
    list_filter = ("action", "via")
    search_fields = ("object_repr", "action", "user__username", "organization__name")
    date_hierarchy = "created_at"
    list_select_related = ("user", "organization")
    readonly_fields = [f.name for f in AuditEvent._meta.fields] + ["items"]
    ITEMS_SHOWN = 50

    def get_search_results(self, request, queryset, search_term):
        """A search also finds the events whose objects match: "pirate.example" finds the upload
        that listed it (the listing's creation event) and every event with an item for it."""
        from sitealert.listings.models import Listing

        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term:
            item_events = AuditItem.objects.filter(object_repr__icontains=search_term).values("event_id")
            creations = Listing.objects.filter(target__icontains=search_term).values("creation_event_id")
            queryset |= self.model.objects.filter(Q(pk__in=item_events) | Q(pk__in=creations))
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
    list_display = ("object_repr", "detail", "event")
    search_fields = ("object_repr",)
    list_select_related = ("event",)
    readonly_fields = [f.name for f in AuditItem._meta.fields]
    show_full_result_count = False
