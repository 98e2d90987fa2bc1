import unicodedata

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from sitealert.core.target_messages import public_reason
from sitealert.hosts import InvalidTarget, normalize_target
from sitealert.reviews.models import ReviewCase, ReviewRequest
from sitealert.reviews.services import NO_ROUTES, review_routes

MAX_EVIDENCE_LINKS = 10
MAX_TEXT = 10_000


class ReviewRequestForm(forms.Form):
    routes = NO_ROUTES  # where a review of the target is asked, once the target is read
    target = forms.CharField(
        label=_("Site or app"), max_length=300, widget=forms.TextInput(attrs={"dir": "ltr", "spellcheck": "false"}),
        help_text=_("The domain name, web address or app id that is listed, for example example.com."))
    name = forms.CharField(label=_("Your name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(
        label=_("Your e-mail address"),
        help_text=_("We send a confirmation link to this address. The authorities that listed the site see it and "
                    "may answer you there."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "dir": "ltr"}))
    relationship = forms.ChoiceField(label=_("Your relationship to the site"),
                                     choices=[("", "—")] + list(ReviewRequest.Relationship.choices))
    reasons = forms.CharField(
        label=_("Why should the listing be reviewed?"), max_length=MAX_TEXT,
        help_text=_("Explain what you think is wrong with the listing, or what has changed since it was made."),
        widget=forms.Textarea(attrs={"rows": 8}))
    evidence = forms.CharField(
        label=_("Evidence links"), required=False, max_length=5000,
        help_text=_("Addresses (starting with http:// or https://) of documents that support your request, one per "
                    "line, at most 10."),
        widget=forms.Textarea(attrs={"rows": 3, "dir": "ltr"}))
    # A field people never see: automated submissions fill it in and are quietly dropped.
    homepage = forms.CharField(label=_("Leave this field empty"), required=False,
                               widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))

    def clean_name(self):
        name = self.cleaned_data["name"]
        # Control characters and line breaks only: a Persian name's zero-width non-joiner, a
        # right-to-left mark and a no-break space are part of how people write names.
        if any(c in "\x85\u2028\u2029" or unicodedata.category(c) == "Cc" for c in name):
            # The name is written into the e-mails sent to the address given: no second line there.
            raise ValidationError(_("Write your name on one line, without control characters."))
        return name

    def clean_target(self):
        raw = self.cleaned_data["target"]
        try:
            target = normalize_target(raw)
        except InvalidTarget as exc:
            raise ValidationError(public_reason(exc)) from None
        self.routes = review_routes(target)
        if not self.routes.here:
            if self.routes.elsewhere:
                # Never a request here for a decision taken elsewhere: the page shows where to ask.
                raise ValidationError(
                    _("'%(target)s' is listed only by authorities that decide at other installations. Ask them "
                      "for a review there, with the links on this page."), params={"target": target})
            raise ValidationError(_("'%(target)s' is not on the list, so there is nothing to review."),
                                  params={"target": target})
        self.normalized_target = target
        return raw.strip()

    def clean_evidence(self):
        lines = [line.strip() for line in self.cleaned_data["evidence"].splitlines() if line.strip()]
        if len(lines) > MAX_EVIDENCE_LINKS:
            raise ValidationError(_("Give at most %(n)d links."), params={"n": MAX_EVIDENCE_LINKS})
        validate = URLValidator(schemes=["http", "https"])
        for line in lines:
            try:
                validate(line)
            except ValidationError:
                raise ValidationError(_("'%(link)s' is not a web address starting with http:// or https://."),
                                      params={"link": line[:200]}) from None
        return lines

    @property
    def is_bot(self):
        return bool(self.data.get("homepage", "").strip())


class AnswerForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Your answer"), widget=forms.RadioSelect,
        choices=[(ReviewCase.Outcome.UPHELD, _("Uphold the listing")),
                 (ReviewCase.Outcome.REMOVED, _("Remove the listing"))])
    explanation = forms.CharField(
        label=_("Explanation"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Shown to the person who asked for the review and on their status page. When you remove the "
                    "listing, it is also the reason recorded in the change log."))
