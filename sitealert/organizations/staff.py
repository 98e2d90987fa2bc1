"""What operator staff may do in the admin site: every model admin builds on OperatorAdmin, and
actions on selected objects go through the services, one object at a time, with a reason where
the service asks for one."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from sitealert.core.actors import actor_for_request
from sitealert.organizations import permissions


def is_operator_staff(request):
    return permissions.can_use_admin(actor_for_request(request))


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
