from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


def _lifetime_choices():
    default = settings.SITEALERT["TOKEN_DEFAULT_DAYS"]
    days = sorted({30, 90, 365, default})
    return [(d, ngettext("%(days)d day", "%(days)d days", d) % {"days": d}) for d in days]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False,
                           help_text=_("What the token is for, e.g. the system that uses it."))
    days = forms.TypedChoiceField(label=_("Valid for"), coerce=int, choices=_lifetime_choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = settings.SITEALERT["TOKEN_DEFAULT_DAYS"]
