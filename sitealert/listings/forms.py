from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sitealert.core.target_messages import translated_reason
from sitealert.hosts import InvalidTarget, normalize_target
from sitealert.listings.models import Category, Listing
from sitealert.listings.services import MAX_NOTE, MAX_REFERENCE


class ListingFilterForm(forms.Form):
    """The list's search; its fields keep their plain names (?q=&status=&category=), which links and
    bookmarks carry, and take distinct ids, since the page's add form also has a category field."""

    q = forms.CharField(label=pgettext_lazy("listing filter", "Search"), required=False, max_length=300,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("part of a target")}))
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("All statuses"))] + list(Listing.Status.choices))
    category = forms.ChoiceField(label=_("Category"), required=False,
                                 choices=[("", _("All categories"))] + list(Category.choices))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "id_filter_%s")
        super().__init__(*args, **kwargs)


class ListingEntryForm(forms.Form):
    target = forms.CharField(label=_("Website or app"), max_length=2000,
                             help_text=_("A domain name, web address or app id, e.g. example.com or "
                                         "android:com.example.app."))
    category = forms.ChoiceField(label=_("Category"), choices=[("", "—")] + list(Category.choices))
    reference = forms.CharField(label=_("Reference"), max_length=MAX_REFERENCE, required=False,
                                help_text=_("The national decision or case identifier."))
    review_after = forms.DateField(label=_("Review after"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}),
                                   help_text=_("Optional: a date when you want to review this entry."))
    note = forms.CharField(label=_("Private note"), max_length=MAX_NOTE, required=False, widget=forms.Textarea(
        attrs={"rows": 2}), help_text=_("Seen only by your organization and the operator."))

    def clean_target(self):
        # Checked here too, so that a bad target is reported together with the other fields' errors
        # instead of after they are corrected; the listings service normalizes it again.
        target = self.cleaned_data["target"]
        try:
            normalize_target(target)
        except InvalidTarget as exc:
            raise ValidationError(translated_reason(exc)) from None
        return target


class RemoveForm(forms.Form):
    reason = forms.CharField(label=_("Reason for removal"), max_length=500,
                             help_text=_("Recorded with the removal, e.g. the decision that lifted the measure."))


class UploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"),
                           help_text=_("UTF-8, with the header row target,category,reference,note."))
    dry_run = forms.BooleanField(label=_("Dry run: check the file and show the report without changing anything"),
                                 required=False)
    accept_valid_rows = forms.BooleanField(
        label=_("Accept the valid rows even if some rows are rejected"), required=False,
        help_text=_("Without this option, nothing is applied when any row is rejected."))
