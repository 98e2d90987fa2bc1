"""Second factor at sign-in: the gate after the password, the verification page, enrolment (an
authenticator app, passkeys, recovery codes) and passkeys tied to the site's public address.

After the password, a member whose account has a factor passes it before reaching any page; one
whom the policy (SECOND_FACTOR_REQUIRED) requires to have one and who has none is guided through
enrolment first. API tokens are not concerned: the API never reads the session.
"""

import base64
from urllib.parse import urlencode, urlparse

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.helpers import WebAuthnHelper

from sitealert.core import ratelimit
from sitealert.core.actors import actor_for_request
from sitealert.core.conf import setting
from sitealert.organizations import second_factor

# Reachable whatever the state of the session's second factor.
OPEN_PATHS = ("/static/", "/i18n/", "/logout/", "/admin/logout/", "/api/", "/account/passkeys/jsi18n/")
VERIFY_PATHS = ("/account/second-factor/verify/", "/account/passkeys/authentication/")
ENROL_PATHS = ("/account/second-factor/", "/account/passkeys/registration/")


class SecondFactorMiddleware:
    """Holds a signed-in but unverified session at the verification or the enrolment page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not user.is_verified():
            path = request.path_info
            if not path.startswith(OPEN_PATHS):
                if second_factor.has_factor(user):
                    if not path.startswith(VERIFY_PATHS):
                        return _redirect_with_next("second_factor_verify", request)
                elif not path.startswith(ENROL_PATHS) and second_factor.required_for(user):
                    return _redirect_with_next("second_factor", request)
        return self.get_response(request)


def _redirect_with_next(name, request):
    target = reverse(name)
    if request.method == "GET":
        target += "?" + urlencode({"next": request.get_full_path()})
    return redirect(target)


def _next_url(request):
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(wanted, {request.get_host()}, request.is_secure()):
        return wanted
    return reverse("dashboard")


class PasskeyHelper(WebAuthnHelper):
    """Passkeys belong to SITE_URL: its host is the relying party, its origin the one accepted.
    Every passkey registered is recorded in the audit log."""

    def get_relying_party_domain(self):
        return urlparse(settings.SITE_URL).hostname

    def get_allowed_origins(self):
        url = urlparse(settings.SITE_URL)
        return [f"{url.scheme}://{url.netloc}"]

    def register_complete(self, user, state, data):
        credential = super().register_complete(user=user, state=state, data=data)
        second_factor.record_passkey(user, credential, actor=actor_for_request(self.request))
        return credential


def _matching_device(user, code):
    """The authenticator app or recovery code device that accepts `code`, if any (each device
    applies django-otp's own throttling too)."""
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True))
    devices += list(StaticDevice.objects.filter(user=user, confirmed=True))
    for device in devices:
        if device.verify_is_allowed()[0] and device.verify_token(code):
            return device
    return None


@login_required
def verify(request):
    user = request.user
    next_url = _next_url(request)
    if user.is_verified():
        return redirect(next_url)
    if not second_factor.has_factor(user):
        return redirect("second_factor")
    error, status = "", 200
    if request.method == "POST":
        key = str(user.pk)
        wait = ratelimit.hit("second-factor", key, setting("LOGIN_RATE"), setting("LOGIN_WINDOW"))
        code = "".join((request.POST.get("code") or "").split())[:64]
        if wait:
            minutes = max(1, (wait + 59) // 60)
            error, status = ngettext("Too many attempts. Wait %(minutes)d minute and try again.",
                                     "Too many attempts. Wait %(minutes)d minutes and try again.",
                                     minutes) % {"minutes": minutes}, 429
        elif not code:
            error, status = _("Enter the code from your authenticator app, or a recovery code."), 400
        else:
            device = _matching_device(user, code)
            if device is not None:
                ratelimit.refund("second-factor", key, setting("LOGIN_WINDOW"))
                otp_login(request, device)
                if isinstance(device, StaticDevice):
                    second_factor.record_recovery_code_used(user, actor=actor_for_request(request))
                return redirect(next_url)
            error, status = _("This code is not valid. Enter the current code from your authenticator app, "
                              "or one of your recovery codes."), 400
    kinds = {kind for kind, _device in second_factor.factors_of(user)}
    return render(request, "front/second_factor_verify.html", {
        "next": next_url, "error": error, "has_app": second_factor.TOTP in kinds,
        "has_passkey": second_factor.PASSKEY in kinds, "has_recovery": second_factor.RECOVERY in kinds,
    }, status=status)


@login_required
def overview(request):
    """The account's second factors; enrolment starts here."""
    return _overview(request)


def _overview(request, codes=None, status=200):
    user = request.user
    return render(request, "front/second_factor.html", {
        "factors": second_factor.factors_of(user), "names": second_factor.FACTOR_NAMES,
        "required": second_factor.required_for(user), "has_factor": second_factor.has_factor(user),
        "codes": codes, "next": _next_url(request),
    }, status=status)


@login_required
@require_POST
def authenticator_app(request):
    """POST without a code: a new authenticator app to scan; with one: its confirmation."""
    user = request.user
    device_id = request.POST.get("device", "")
    if not device_id:
        device, error = second_factor.start_authenticator_app(user), ""
    else:
        actor = actor_for_request(request)
        confirmed = second_factor.confirm_authenticator_app(user, device_id if device_id.isdigit() else 0,
                                                            request.POST.get("code") or "", actor=actor)
        if confirmed is not None:
            if not user.is_verified():
                otp_login(request, confirmed)
            return _first_codes_or_overview(request, actor)
        device = TOTPDevice.objects.filter(user=user, pk=device_id if device_id.isdigit() else 0,
                                           confirmed=False).first()
        if device is None:
            return redirect("second_factor")
        error = _("This code is not valid. Enter the six digits your authenticator app shows now.")
    return render(request, "front/second_factor_app.html", {
        "device": device, "error": error, "next": _next_url(request),
        "secret": base64.b32encode(device.bin_key).decode(),
        "qr": segno.make(device.config_url, micro=False).svg_inline(scale=4, title=_("QR code to scan")),
    }, status=400 if error else 200)


def _first_codes_or_overview(request, actor):
    """The recovery codes, shown once, when the account has just gained its first factor."""
    user = request.user
    if second_factor.has_factor(user) and not StaticDevice.objects.filter(user=user).exists():
        return _overview(request, codes=second_factor.issue_recovery_codes(user, actor=actor))
    return redirect(reverse("second_factor") + "?" + urlencode({"next": _next_url(request)}))


@login_required
@require_POST
def change(request):
    """Remove a factor, or replace the recovery codes (a verified session only, which the
    middleware ensures for an account that has a factor), or see the first codes after a passkey."""
    user, actor = request.user, actor_for_request(request)
    action = request.POST.get("action")
    if action == "first-codes":
        return _first_codes_or_overview(request, actor)
    if action == "new-codes" and second_factor.has_factor(user):
        return _overview(request, codes=second_factor.issue_recovery_codes(user, actor=actor))
    if action == "remove":
        device_id = request.POST.get("device", "")
        if device_id.isdigit() and second_factor.remove_factor(user, request.POST.get("kind"), int(device_id),
                                                                actor=actor):
            return redirect("second_factor")
    return _overview(request, status=400)
