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
    """Django's login view with a per-address and per-username limit on attempts."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = self._throttle(request)
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

    @staticmethod
    def _throttle(request):
        limit = settings.SITEALERT["LOGIN_RATE"]
        window = settings.SITEALERT["LOGIN_WINDOW"]
        username = (request.POST.get("username") or "").strip().lower()[:150]
        waits = [ratelimit.hit("login-ip", client_ip(request) or "-", limit, window)]
        if username:
            waits.append(ratelimit.hit("login-user", username, limit, window))
        return max(waits)


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
