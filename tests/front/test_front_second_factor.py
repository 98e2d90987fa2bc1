"""Second factor: the policy, enrolment of an authenticator app with recovery codes shown once,
signing in with a code or a recovery code, throttling, the operator's reset, and the audit log."""

import re

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sitealert.core.actors import Actor
from sitealert.core.models import AuditEvent
from sitealert.organizations import second_factor
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_device_delay(settings):
    """django-otp makes a device wait after a wrong code (1 s, doubling): these tests type a wrong
    code then the right one at once. Our own limit (test_second_factor_attempts_are_throttled) stays."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def code_for(device, ahead=0):
    """The code the authenticator app shows now (`ahead` steps later: a code is accepted once)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.drift = ahead
    return f"{totp.token():0{device.digits}d}"


def sign_in(username, client=None):
    client = client or Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def enrol_app(client):
    """Add an authenticator app through the pages; return (device, recovery codes shown)."""
    page = client.post("/account/second-factor/app/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(confirmed=False)
    secret = re.search(r'id="totp-secret">([A-Z2-7=]+)<', page.content.decode()).group(1)
    assert secret.rstrip("=")  # the key is shown for typing in, and the QR code carries it
    assert "<svg" in page.content.decode()
    done = client.post("/account/second-factor/app/", {"device": device.pk, "code": code_for(device)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]+)</code></li>", done.content.decode())
    device.refresh_from_db()
    return device, codes


def test_policy_guides_a_contributor_without_a_factor_to_enrolment(second_factor_policy, alice):
    second_factor_policy()
    client = sign_in("alice")
    for path in ("/listings/", "/dashboard/", "/", "/tokens/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/second-factor/?next=")
    page = client.get("/account/second-factor/")
    assert page.status_code == 200 and 'id="second-factor-required"' in page.content.decode()


def test_default_policy_requires_staff_and_contributors_only(second_factor_policy, alice, carol, olga):
    second_factor_policy()
    assert second_factor.required_for(alice) and second_factor.required_for(olga)
    assert not second_factor.required_for(carol)
    client = sign_in("carol")
    assert client.get("/download/").status_code == 200


def test_enrol_an_authenticator_app_and_see_recovery_codes_once(second_factor_policy, alice):
    second_factor_policy()
    client = sign_in("alice")
    page = client.post("/account/second-factor/app/")
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    wrong = client.post("/account/second-factor/app/", {"device": device.pk, "code": "000000" if code_for(device)
                                                        != "000000" else "111111"})
    assert wrong.status_code == 400 and "This code is not valid" in wrong.content.decode()
    assert not second_factor.has_factor(alice)
    done = client.post("/account/second-factor/app/", {"device": device.pk, "code": code_for(device)})
    codes = re.findall(r"<li><code>([0-9a-f]+)</code></li>", done.content.decode())
    assert len(codes) == second_factor.RECOVERY_CODES == len(set(codes))
    assert second_factor.has_factor(alice)
    assert client.get("/listings/").status_code == 200  # this session proved the factor
    again = client.get("/account/second-factor/").content.decode()
    assert not any(code in again for code in codes)  # shown once
    assert page.status_code == 200
    actions = list(AuditEvent.objects.filter(object_repr="alice").values_list("action", flat=True))
    assert "account.factor_add" in actions and "account.recovery_codes" in actions


def test_sign_in_passes_the_second_factor(second_factor_policy, alice):
    second_factor_policy()
    device, codes = enrol_app(sign_in("alice"))
    client = sign_in("alice")
    blocked = client.get("/listings/")
    assert blocked.status_code == 302 and blocked["Location"] == "/account/second-factor/verify/?next=%2Flistings%2F"
    # An unverified session cannot change the factors.
    assert client.post("/account/second-factor/change/", {"action": "remove", "kind": "totp",
                                                          "device": device.pk}).status_code == 302
    assert second_factor.has_factor(alice)
    wrong = client.post("/account/second-factor/verify/", {"code": "12345", "next": "/listings/"})
    assert wrong.status_code == 400 and "This code is not valid" in wrong.content.decode()
    empty = client.post("/account/second-factor/verify/", {"code": " ", "next": "/listings/"})
    assert empty.status_code == 400
    ok = client.post("/account/second-factor/verify/", {"code": code_for(device, ahead=1), "next": "/listings/"})
    assert ok.status_code == 302 and ok["Location"] == "/listings/"
    assert client.get("/listings/").status_code == 200


def test_a_recovery_code_works_once(second_factor_policy, alice):
    second_factor_policy()
    _device, codes = enrol_app(sign_in("alice"))
    client = sign_in("alice")
    ok = client.post("/account/second-factor/verify/", {"code": codes[0], "next": "/listings/"})
    assert ok.status_code == 302 and ok["Location"] == "/listings/"
    assert StaticToken.objects.filter(device__user=alice).count() == len(codes) - 1
    assert AuditEvent.objects.filter(action="account.recovery_code_used", object_repr="alice").count() == 1
    again = sign_in("alice")
    assert again.post("/account/second-factor/verify/", {"code": codes[0]}).status_code == 400


def test_second_factor_attempts_are_throttled(second_factor_policy, settings, alice):
    second_factor_policy()
    device, _codes = enrol_app(sign_in("alice"))
    settings.SITEALERT = {**settings.SITEALERT, "LOGIN_RATE": 3, "LOGIN_WINDOW": 10**9}
    client = sign_in("alice")
    for _ in range(3):
        assert client.post("/account/second-factor/verify/", {"code": "99999999"}).status_code == 400
    throttled = client.post("/account/second-factor/verify/", {"code": code_for(device, ahead=1)})
    assert throttled.status_code == 429 and "Too many attempts" in throttled.content.decode()
    assert client.get("/listings/").status_code == 302


def test_the_operator_resets_a_lost_device_and_sees_who_has_which_factor(second_factor_policy, alice, olga):
    second_factor_policy("contributor")
    enrol_app(sign_in("alice"))
    operator = Client()
    operator.force_login(olga)
    listing = operator.get("/admin/organizations/membership/").content.decode()
    assert "Authenticator app, Recovery codes" in listing
    membership = alice.membership
    response = operator.post("/admin/organizations/membership/", {
        "action": "reset_second_factors", "_selected_action": [membership.pk]})
    assert response.status_code == 302
    assert not second_factor.has_factor(alice) and second_factor.factors_of(alice) == []
    event = AuditEvent.objects.get(action="account.factor_reset")
    assert event.object_repr == "alice" and event.user_id == olga.pk
    # Her next sign-in enrols anew.
    assert sign_in("alice").get("/listings/")["Location"].startswith("/account/second-factor/?next=")


def test_only_operator_staff_reset_second_factors(alice, bob):
    with pytest.raises(PermissionDenied):
        second_factor.reset_factors(bob, actor=Actor(user=alice, organization=alice.membership.organization))


def test_api_tokens_are_not_concerned(second_factor_policy, client, alice, italy_token):
    second_factor_policy()
    response = client.post("/api/v1/listings", {"entries": [{"target": "token-only.example",
                                                             "category": "other", "reference": "R"}]},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {italy_token}")
    assert response.status_code == 200, response.content


def test_removing_a_factor_is_audited(second_factor_policy, alice):
    second_factor_policy()
    client = sign_in("alice")
    device, _codes = enrol_app(client)
    response = client.post("/account/second-factor/change/", {"action": "remove", "kind": "totp",
                                                              "device": device.pk})
    assert response.status_code == 302
    assert second_factor.factors_of(alice) == []  # the recovery codes went with the last factor
    assert AuditEvent.objects.filter(action="account.factor_remove", object_repr="alice").exists()
    bad = client.post("/account/second-factor/change/", {"action": "remove", "kind": "totp", "device": "x"})
    assert bad.status_code == 400


def test_operator_staff_signing_in_at_the_admin_enrol_first(second_factor_policy, olga):
    second_factor_policy()
    client = Client()
    login = client.post("/admin/login/?next=/admin/", {"username": "olga", "password": PASSWORD, "next": "/admin/"})
    assert login.status_code == 302 and login["Location"] == "/admin/"
    admin = client.get("/admin/")
    assert admin.status_code == 302 and admin["Location"] == "/account/second-factor/?next=%2Fadmin%2F"
    page = client.get(admin["Location"]).content.decode()
    assert 'id="second-factor-required"' in page and 'id="second-factor-link"' in page
    device, _codes = enrol_app(client)
    assert client.get("/admin/").status_code == 200
