from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sitealert.core import audit
from sitealert.core.actors import actor_for_request
from sitealert.core.target_messages import translated_reason
from sitealert.hosts import InvalidTarget, normalize_target, target_kind
from sitealert.listings import protection, services
from sitealert.listings.models import Listing, ProtectedTarget
from sitealert.organizations import permissions
from sitealert.organizations.staff import OperatorAdmin, apply_to_each, apply_with_reason


@audit.register_search
def upload_that_listed(term):
    """The audit log's search finds an upload by any target it listed (its listings point to it)."""
    return Listing.objects.filter(target__icontains=term).values("creation_event_id")


@admin.register(Listing)
class ListingAdmin(OperatorAdmin):
    """Operators never edit a contributor's listings: they can only hold and release them."""

    list_display = ("target", "contributor", "category", "status", "listed_at", "status_changed_at")
    list_filter = ("status", "category", "kind", ("contributor", admin.RelatedOnlyFieldListFilter))
    search_fields = ("target", "reference")
    list_select_related = ("contributor",)
    date_hierarchy = "listed_at"
    fields = ("target", "kind", "contributor", "category", "reference", "listed_at", "review_after", "note",
              "status", "reason", "status_changed_at", "creation_event")
    readonly_fields = fields
    actions = ("hold", "release")

    def get_fields(self, request, obj=None):
        if obj is None or permissions.can_see_private_notes(actor_for_request(request), obj.contributor):
            return self.fields
        return tuple(f for f in self.fields if f != "note")

    @admin.display(description=_("reason"))
    def reason(self, listing):
        return listing.reason_text

    @admin.action(description=_("Hold the selected listings pending review…"), permissions=["moderate"])
    def hold(self, request, queryset):
        return apply_with_reason(
            self, request, queryset.select_related("contributor"),
            lambda listing, reason, actor: services.hold_listing(listing, reason, actor=actor),
            lambda n: ngettext("%(n)d listing held.", "%(n)d listings held.", n) % {"n": n},
            title=_("Hold listings pending review"), submit_label=_("Hold"))

    @admin.action(description=_("Release the selected held listings"), permissions=["moderate"])
    def release(self, request, queryset):
        apply_to_each(self, request, queryset.select_related("contributor"),
                      lambda listing, actor: services.release_listing(listing, actor=actor),
                      lambda n: ngettext("%(n)d listing released.", "%(n)d listings released.", n) % {"n": n})


class ProtectedTargetForm(forms.ModelForm):
    class Meta:
        model = ProtectedTarget
        fields = ["target", "reason"]

    def clean_target(self):
        try:
            target = normalize_target(self.cleaned_data["target"])
        except InvalidTarget as exc:
            raise forms.ValidationError(translated_reason(exc)) from exc
        if target_kind(target) != "domain":
            raise forms.ValidationError(_("Only domains can be protected targets."))
        return target


@admin.register(ProtectedTarget)
class ProtectedTargetAdmin(OperatorAdmin):
    """Added and removed through the listings services, which audit both."""

    operator_can_add = True
    operator_can_delete = True
    form = ProtectedTargetForm
    list_display = ("target", "reason", "created_at", "created_by")
    search_fields = ("target", "reason")
    readonly_fields = ("created_at", "created_by")

    def save_model(self, request, obj, form, change):
        created = protection.add_protected_target(obj.target, obj.reason, actor=actor_for_request(request))
        obj.__dict__.update(created.__dict__)  # the admin goes on with `obj`: its log entry and redirect

    def delete_model(self, request, obj):
        protection.remove_protected_target(obj, actor=actor_for_request(request))

    def delete_queryset(self, request, queryset):
        actor = actor_for_request(request)
        for protected in queryset:
            protection.remove_protected_target(protected, actor=actor)
