from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from sitealert.core import audit
from sitealert.core.actors import Actor, actor_for_request
from sitealert.organizations import permissions, second_factor, services
from sitealert.organizations.models import ApiToken, Membership, Organization
from sitealert.organizations.staff import OperatorAdmin, apply_to_each, apply_with_reason

# django-otp's own admins edit devices directly, past the audit log: the operator sees each account's
# factors on its membership and resets them with the audited action below.
for device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(device_model):
        admin.site.unregister(device_model)


class OrganizationForm(forms.ModelForm):
    website = forms.URLField(label=_("website"), required=False, assume_scheme="https")

    class Meta:
        model = Organization
        fields = ["name", "kind", "country", "status", "website"]

    def clean(self):
        data = super().clean()
        kind = data.get("kind", self.instance.kind)
        if kind and "name" in data:
            try:
                data["name"], data["country"] = services.clean_organization_fields(
                    kind, data["name"], data.get("country", self.instance.country))
            except services.OrganizationError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return data


@admin.register(Organization)
class OrganizationAdmin(OperatorAdmin):
    operator_can_add = True
    operator_can_change = True
    form = OrganizationForm
    list_display = ("name", "slug", "kind", "country", "status", "created_at", "approved_at")
    list_filter = ("kind", "status")
    search_fields = ("name", "slug", "country")
    actions = ("approve", "suspend")

    FEDERATION_FIELDS = ["origin", "origin_installation", "origin_url", "review_url"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("slug", "created_at", "approved_at", "terms_accepted_at")
        # The status changes only through the approve and suspend actions, which are audited.
        return ("slug", "kind", "status", "created_at", "approved_at", "terms_accepted_at", *self.FEDERATION_FIELDS)

    def get_fields(self, request, obj=None):
        fields = ["name", "kind", "country", "status", "website"]
        if obj is None:
            return fields
        federation = self.FEDERATION_FIELDS if obj.is_federated else []
        return ["slug"] + fields + federation + ["created_at", "approved_at", "terms_accepted_at"]

    def has_change_permission(self, request, obj=None):
        # A federated authority's name, country and website come from its installation.
        if obj is not None and not permissions.can_change_here(actor_for_request(request), obj):
            return False
        return super().has_change_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and not permissions.can_change_here(actor_for_request(request), obj):
            self.message_user(request, permissions.read_only_reason(obj), messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        actor = actor_for_request(request)
        if change:
            obj.save()
            audit.record(actor, "organization.update", obj.slug,
                         {k: str(form.cleaned_data.get(k, "")) for k in form.changed_data})
            return
        created = services.create_organization(kind=obj.kind, name=obj.name, country=obj.country,
                                               status=obj.status, actor=actor)
        if obj.website:
            created.website = obj.website
            created.save(update_fields=["website"])
        obj.__dict__.update(created.__dict__)  # the admin goes on with `obj`: its log entry and redirect

    @admin.action(description=_("Approve the selected organizations"), permissions=["moderate"])
    def approve(self, request, queryset):
        apply_to_each(self, request, queryset, lambda org, actor: services.set_organization_status(
            org, Organization.Status.APPROVED, actor=actor),
            lambda n: ngettext("%(n)d organization approved.", "%(n)d organizations approved.", n) % {"n": n})

    @admin.action(description=_("Suspend the selected organizations…"), permissions=["moderate"])
    def suspend(self, request, queryset):
        return apply_with_reason(
            self, request, queryset,
            lambda org, reason, actor: services.set_organization_status(
                org, Organization.Status.SUSPENDED, actor=actor, reason=reason),
            lambda n: ngettext("%(n)d organization suspended.", "%(n)d organizations suspended.", n) % {"n": n},
            title=_("Suspend organizations"), submit_label=_("Suspend"))


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("user", "organization", "role")

    actor = Actor()  # the staff member at work, set by MembershipAdmin.get_form

    def clean(self):
        data = super().clean()
        user, org = data.get("user"), data.get("organization")
        if user is not None and org is not None and user.is_staff and not org.is_operator:
            raise forms.ValidationError(_("Staff accounts belong to the operator organization only."))
        if org is not None and not permissions.can_change_here(self.actor, org):
            raise forms.ValidationError(permissions.read_only_reason(org))
        return data


@admin.register(Membership)
class MembershipAdmin(OperatorAdmin):
    form = MembershipForm
    operator_can_add = True
    operator_can_change = True
    operator_can_delete = True
    list_display = ("user", "organization", "role", "second_factors", "created_at")
    list_filter = ("role", "organization__kind")
    actions = ("reset_second_factors",)
    search_fields = ("user__username", "user__email", "organization__name")
    autocomplete_fields = ("organization",)
    raw_id_fields = ("user",)
    fields = ("user", "organization", "role")
    list_select_related = ("user", "organization")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.actor = actor_for_request(request)
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(actor_for_request(request), "member.update" if change else "member.add", obj.user.get_username(),
                     {"organization": obj.organization.slug, "role": obj.role})

    def delete_model(self, request, obj):
        self._record_removal(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        self._record_removal(request, queryset.select_related("user", "organization"))
        super().delete_queryset(request, queryset)

    @admin.display(description=_("Second factors"))
    def second_factors(self, membership):
        return second_factor.summary(membership.user) or "—"

    @admin.action(description=_("Reset the second factors of the selected accounts (lost device)"),
                  permissions=["moderate"])
    def reset_second_factors(self, request, queryset):
        apply_to_each(self, request, queryset.select_related("user"),
                      lambda membership, actor: second_factor.reset_factors(membership.user, actor=actor),
                      lambda n: ngettext("The second factors of %(n)d account were reset: it enrols anew at its "
                                         "next sign-in.",
                                         "The second factors of %(n)d accounts were reset: they enrol anew at their "
                                         "next sign-in.", n) % {"n": n})

    @staticmethod
    def _record_removal(request, memberships):
        audit.record_many(actor_for_request(request), "member.remove", [
            (m.user.get_username(), {"organization": m.organization.slug}) for m in memberships])


@admin.register(ApiToken)
class ApiTokenAdmin(OperatorAdmin):
    """Tokens are created by their organization (or the CLI); the operator can only look and revoke."""

    list_display = ("hint", "organization", "name", "scope", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("scope", "organization__kind")
    search_fields = ("hint", "name", "organization__name")
    list_select_related = ("organization",)
    fields = ("hint", "organization", "name", "scope", "created_by", "created_at", "expires_at", "last_used_at",
              "revoked_at")
    readonly_fields = fields
    actions = ("revoke",)

    @admin.action(description=_("Revoke the selected tokens"), permissions=["moderate"])
    def revoke(self, request, queryset):
        apply_to_each(self, request, queryset.select_related("organization"),
                      lambda token, actor: services.revoke_token(token, actor=actor),
                      lambda n: ngettext("%(n)d token revoked.", "%(n)d tokens revoked.", n) % {"n": n})

