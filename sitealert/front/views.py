"""Home page, sign-in with throttling, the dashboard that sends each person where they work, and the demo's outbox."""

import unicodedata

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import ngettext

from sitealert.core import ratelimit
from sitealert.core.actors import actor_for_request, client_ip
from sitealert.core.conf import setting
from sitealert.front.outbox import MAX_MESSAGES, sent_messages
from sitealert.organizations import permissions


def home(request):
    return render(request, "front/home.html")


class LoginView(auth_views.LoginView):
    """Django's login view with a per-address and per-username limit on failed attempts.

    Every attempt is counted before its password is checked, in one atomic increment, so
    concurrent guesses cannot slip past the limit between a check and a count; a successful
    sign-in gives its attempt back. So only failures use the budget: a whole office behind one
    address signs in all day, while guessing stops after LOGIN_RATE failures per window.
    """

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = self._count_attempt(request)
        if wait:
            # An unbound form: validating the bound one would check the password, an argon2 hash
            # a throttled guesser could make the server compute for free.
            form = self.get_form_class()(request, initial={"username": request.POST.get("username", "")[:150]})
            form.cleaned_data = {}  # what add_error expects of a form that was never validated
            minutes = max(1, (wait + 59) // 60)
            message = ngettext(
                "Too many sign-in attempts. Wait %(minutes)d minute and try again.",
                "Too many sign-in attempts. Wait %(minutes)d minutes and try again.",
                minutes) % {"minutes": minutes}
            form.add_error(None, message)
            response = self.render_to_response(self.get_context_data(form=form, throttled=True))
            response.status_code = 429
            response["Retry-After"] = str(wait)
            return response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        self._refund_attempt(self.request)
        return super().form_valid(form)

    @staticmethod
    def _keys(request):
        keys = [("login-ip", ratelimit.client_key(client_ip(request)))]
        # As Django's UsernameField reads it (NFKC: "ｄemo" is "demo"), so that look-alike spellings of
        # one account share its limit instead of each getting ten guesses of their own.
        username = unicodedata.normalize("NFKC", request.POST.get("username") or "").strip().casefold()[:150]
        if username:
            keys.append(("login-user", username))
        return keys

    @classmethod
    def _count_attempt(cls, request):
        limit = setting("LOGIN_RATE")
        window = setting("LOGIN_WINDOW")
        return max([ratelimit.hit(scope, key, limit, window) for scope, key in cls._keys(request)])

    @classmethod
    def _refund_attempt(cls, request):
        window = setting("LOGIN_WINDOW")
        for scope, key in cls._keys(request):
            ratelimit.refund(scope, key, window)


@login_required
def dashboard(request):
    actor = actor_for_request(request)
    org = actor.organization
    if org is not None and org.is_active:
        if org.is_contributor:
            return redirect("listings")
        if org.is_user:
            return redirect("download")
    if permissions.can_use_admin(actor):
        return redirect("admin:index")
    return render(request, "front/dashboard.html", {"organization": org, "reason": permissions.why_not(actor)})


@login_required
def outbox(request):
    """The mail the demo wrote to files, for operator staff; it does not exist outside demo mode."""
    if not setting("DEMO_OUTBOX"):
        raise Http404
    permissions.require(permissions.can_read_outbox(actor_for_request(request)))
    directory = getattr(settings, "EMAIL_FILE_PATH", "")
    return render(request, "front/outbox.html", {
        "messages_sent": sent_messages(directory) if directory else [],
        "directory": directory, "limit": MAX_MESSAGES,
        "file_backend": settings.EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend",
    })
