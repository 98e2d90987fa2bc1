from django import forms
from django.utils.translation import gettext_lazy as _

from sitealert.listings.models import Category
from sitealert.listings.services import MAX_REFERENCE
from sitealert.monitoring.models import Status


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Monitoring status"), required=False,
                               choices=[("", _("All"))] + list(Status.choices))


class StaleActionForm(forms.Form):
    CONFIRM, REMOVE = "confirm", "remove"

    action = forms.ChoiceField(choices=[(CONFIRM, _("Confirm")), (REMOVE, _("Remove"))])
    reason = forms.CharField(label=_("Reason for removal"), max_length=500, required=False,
                             help_text=_("Needed to remove: recorded with the removal."))

    def clean(self):
        data = super().clean()
        if data.get("action") == self.REMOVE and not data.get("reason", "").strip():
            self.add_error("reason", _("Give a reason to remove the selected listings."))
        return data


class CandidateListForm(forms.Form):
    reference = forms.CharField(label=_("Reference"), max_length=MAX_REFERENCE,
                                help_text=_("The national decision or case identifier for the new listing."))
    category = forms.ChoiceField(label=_("Category"), choices=Category.choices)
