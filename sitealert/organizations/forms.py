from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sitealert.core.conf import setting


def _lifetime_choices():
    default = setting("TOKEN_DEFAULT_DAYS")
    lifetimes = sorted({30, 90, 365, default} - {0})
    choices = [(d, ngettext("%(days)d day", "%(days)d days", d) % {"days": d}) for d in lifetimes]
    if not default:  # the installation lets tokens live until they are revoked
        choices.append((0, _("Until revoked")))
    return choices


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False,
                           help_text=_("What the token is for, e.g. the system that uses it."))
    days = forms.TypedChoiceField(label=_("Valid for"), coerce=int, choices=_lifetime_choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].initial = setting("TOKEN_DEFAULT_DAYS")
