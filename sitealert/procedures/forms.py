from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from sitealert.core.countries import country_name

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


class ProcedureSearchForm(forms.Form):
    """The search of /procedures/ (?q=&country=&language=); a value that is not on offer gets a message
    beside its field and is not used."""

    q = forms.CharField(label=pgettext_lazy("procedure search", "Search"), required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": _("authority, country or any word")}))
    country = forms.ChoiceField(
        label=_("Country"), required=False,
        error_messages={"invalid_choice": _("No contributing authority on this site is from '%(value)s'. "
                                            "Choose a country from the list.")})
    language = forms.ChoiceField(
        label=_("Published in"), required=False, choices=[("", _("All languages")), *settings.LANGUAGES],
        error_messages={"invalid_choice": _("'%(value)s' is not one of the languages of this site. "
                                            "Choose a language from the list.")})

    def __init__(self, data=None, *, countries=()):
        if data is not None and "country" in data:
            data = data.copy()  # 'it' and ' IT ' mean Italy as much as 'IT'
            data["country"] = data["country"].strip().upper()
        super().__init__(data, auto_id="id_search_%s")
        named = sorted((country_name(code), code) for code in set(countries) if code)
        self.fields["country"].choices = [("", _("All countries")), *((code, name) for name, code in named)]

    @property
    def is_filtered(self):
        return any((self.data.get(name) or "").strip() for name in self.fields)
