from django import forms
from django.utils.translation import gettext_lazy as _

MAX_TEXT = 10_000


class ProcedureForm(forms.Form):
    description = forms.CharField(
        label=_("Description"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Who you are and the legal basis on which you list sites."))
    contact = forms.CharField(
        label=_("Contact"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Where site operators can reach you about a listing."))
    criteria = forms.CharField(
        label=_("Criteria"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What makes a site eligible for listing."))
    procedure = forms.CharField(
        label=_("Procedure"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("How a decision is taken and notified."))
    appeal = forms.CharField(
        label=_("Review and appeal"), max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("How a site operator asks you to review a listing, and how your decision can be appealed: to "
                    "whom, in what form and within what time."))
