"""Read-only views of review requests and procedure history for operator staff: the operator
oversees due process but never answers for a contributor."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from sitealert.organizations.staff import OperatorAdmin, is_operator_staff
from sitealert.reviews.models import ReviewCase, ReviewRequest


class ReviewCaseInline(admin.TabularInline):
    model = ReviewCase
    fields = ("contributor", "listed_targets", "outcome", "opened_at", "due_at", "answered_at", "explanation")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return is_operator_staff(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReviewRequest)
class ReviewRequestAdmin(OperatorAdmin):
    list_display = ("target", "created_at", "confirmed_at", "relationship", "email")
    list_filter = ("relationship", ("confirmed_at", admin.EmptyFieldListFilter))
    search_fields = ("target", "email", "name")
    date_hierarchy = "created_at"
    exclude = ("confirm_token_hash", "status_token_hash")
    inlines = [ReviewCaseInline]


class OverdueFilter(admin.SimpleListFilter):
    """Open cases whose answer is past due: the contributor has not answered in time."""

    title = _("answer deadline")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Past its due date"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset & ReviewCase.overdue()
        return queryset


@admin.register(ReviewCase)
class ReviewCaseAdmin(OperatorAdmin):
    list_display = ("request", "contributor", "outcome", "opened_at", "due_at", "answered_at", "reminders_sent")
    list_filter = (OverdueFilter, "outcome", "contributor")
    search_fields = ("request__target",)
    date_hierarchy = "opened_at"

