"""Home page, sign-in with throttling, and the dashboard that sends each person where they work."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import ngettext

from sitealert.core import ratelimit
from sitealert.core.actors import actor_for_request, client_ip
from sitealert.organizations import permissions


def home(request):
    return render(request, "core/home.html")


class LoginView(auth_views.LoginView):
    """Django's login view with a per-address and per-username limit on failed attempts.

    Only failed attempts count: a whole office behind one address signs in all day without
    being locked out, while guessing passwords is stopped after LOGIN_RATE failures per window.
    """

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = self._throttled(request)
        if wait:
            form = self.get_form()
            form.errors.clear()
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

    def form_invalid(self, form):
        self._count_failure(self.request)
        return super().form_invalid(form)

    @staticmethod
    def _keys(request):
        keys = [("login-ip", ratelimit.client_key(client_ip(request)))]
        username = (request.POST.get("username") or "").strip().lower()[:150]
        if username:
            keys.append(("login-user", username))
        return keys

    @classmethod
    def _throttled(cls, request):
        limit = settings.SITEALERT["LOGIN_RATE"]
        window = settings.SITEALERT["LOGIN_WINDOW"]
        return max(ratelimit.exhausted(scope, key, limit, window) for scope, key in cls._keys(request))

    @classmethod
    def _count_failure(cls, request):
        limit = settings.SITEALERT["LOGIN_RATE"]
        window = settings.SITEALERT["LOGIN_WINDOW"]
        for scope, key in cls._keys(request):
            ratelimit.hit(scope, key, limit, window)


@login_required
def dashboard(request):
    actor = actor_for_request(request)
    org = actor.organization
    if org is not None and org.is_active:
        if org.is_contributor:
            return redirect("listings")
        if org.is_user:
            return redirect("download")
    if request.user.is_staff and permissions.can_moderate(actor):
        return redirect("admin:index")
    return render(request, "core/dashboard.html", {"organization": org, "reason": permissions.why_not(actor)})
