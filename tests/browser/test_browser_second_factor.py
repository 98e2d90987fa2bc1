"""A contributor enrols a second factor in the browser and signs in with it: an authenticator app
(codes computed with django-otp's TOTP from the key the page shows) and a passkey, registered
and used with Chromium's virtual authenticator (the DevTools WebAuthn domain)."""

import base64
import re

import pytest
from django_otp.oath import TOTP
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def code_from(secret, ahead=0):
    totp = TOTP(base64.b32decode(secret))
    totp.drift = ahead
    return f"{totp.token():06d}"


def log_out(page):
    page.locator("#logout-button").click()
    page.wait_for_url(lambda url: "/account/" not in url)


def test_enrol_an_authenticator_app_and_sign_in_with_it(page, log_in, screenshot, second_factor_policy, alice):
    second_factor_policy()
    log_in("alice")
    expect(page).to_have_url(re.compile(r"/account/second-factor/\?next="))
    expect(page.locator("#second-factor-required")).to_be_visible()
    page.locator("#add-app").click()
    secret = page.locator("#totp-secret").inner_text()
    expect(page.locator(".qr-code svg")).to_be_visible()
    page.get_by_label("Six-digit code").fill(code_from(secret))
    page.locator("#totp-confirm").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    screenshot("recovery-codes")
    page.locator("#second-factor-done").click()
    expect(page).to_have_url(re.compile(r"/listings/"))

    log_out(page)
    log_in("alice")
    expect(page).to_have_url(re.compile(r"/account/second-factor/verify/"))
    page.get_by_label("Code from your authenticator app, or a recovery code").fill("000000x")
    page.locator("#second-factor-submit").click()
    expect(page.locator("#form-errors")).to_contain_text("This code is not valid")
    page.wait_for_timeout(1_200)  # django-otp holds a device for a second after a wrong code
    page.get_by_label("Code from your authenticator app, or a recovery code").fill(code_from(secret, ahead=1))
    page.locator("#second-factor-submit").click()
    expect(page).to_have_url(re.compile(r"/listings/"))


def test_register_a_passkey_and_sign_in_with_it(page, log_in, screenshot, second_factor_policy, settings,
                                                 live_server, alice):
    settings.SITE_URL = live_server.url  # http://localhost:PORT, a secure context for WebAuthn
    second_factor_policy()
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable", {"enableUI": False})
    devtools.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})

    log_in("alice")
    expect(page).to_have_url(re.compile(r"/account/second-factor/\?next="))
    page.locator("#passkey-register-button").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    assert WebAuthnCredential.objects.filter(user=alice, confirmed=True).count() == 1
    page.locator("#second-factor-done").click()
    expect(page).to_have_url(re.compile(r"/listings/"))

    log_out(page)
    log_in("alice")
    expect(page).to_have_url(re.compile(r"/account/second-factor/verify/"))
    screenshot("verify-with-passkey")
    page.locator("#passkey-verification-button").click()
    expect(page).to_have_url(re.compile(r"/listings/"))
    assert page.locator("#logout-button").is_visible()
