"""Accounts and sessions: password guessing is throttled on every sign-in form, passwords are stored
as argon2 hashes, the session cookie cannot be read by script or sent cross-site on a POST, sessions
are renewed at sign-in and end at sign-out, redirects stay on the site, and every response carries
the security headers. The cookie and header checks go over real HTTP to a live server."""

import re

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.test import Client

from tests.conftest import PASSWORD


@pytest.fixture
def low_login_rate(settings):
    settings.SITEALERT = {**settings.SITEALERT, "LOGIN_RATE": 3, "LOGIN_WINDOW": 10**9}
    return 3


def csrf_form(http, path):
    page = http.get(path)
    assert page.status_code == 200
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def sign_in(http, username, password, path="/login/"):
    token = csrf_form(http, path)
    return http.post(path, data={"username": username, "password": password, "csrfmiddlewaretoken": token},
                     headers={"Referer": str(http.base_url) + path})


@pytest.mark.django_db(transaction=True)
def test_guessing_is_throttled_with_a_clear_message_over_http(live_server, low_login_rate, alice):
    with httpx.Client(base_url=live_server.url) as http:
        for i in range(low_login_rate):
            assert sign_in(http, "alice", f"guess {i}").status_code == 200
        refused = sign_in(http, "alice", PASSWORD)
        assert refused.status_code == 429
        assert "Too many sign-in attempts" in refused.text and int(refused.headers["Retry-After"]) > 0
        assert "sessionid" not in http.cookies
        assert http.get("/listings/").status_code == 302


@pytest.mark.django_db
def test_the_admin_sign_in_form_is_throttled_too(low_login_rate, olga):
    """/admin/login/ is a second password form, for the most powerful accounts: guesses made there
    must count, and a guesser who used up the budget on /login/ must not continue there."""
    guesser = Client(REMOTE_ADDR="198.51.100.50")
    for i in range(low_login_rate):
        guesser.post("/login/", {"username": "olga", "password": f"guess {i}"})
    response = guesser.post("/admin/login/", {"username": "olga", "password": PASSWORD, "next": "/admin/"})
    assert "_auth_user_id" not in guesser.session, "the admin form let a throttled guesser sign in"
    assert response.status_code == 429

    other = Client(REMOTE_ADDR="198.51.100.51")
    for i in range(low_login_rate):
        other.post("/admin/login/", {"username": f"someone{i}", "password": "x", "next": "/admin/"})
    assert other.post("/login/", {"username": "olga", "password": PASSWORD}).status_code == 429

    # Within the limits (a new window), operator staff sign in through the admin's form as before.
    from sitealert.core.models import RateLimitCount

    RateLimitCount.objects.all().delete()
    operator = Client(REMOTE_ADDR="198.51.100.52")
    wrong = operator.post("/admin/login/", {"username": "olga2", "password": "wrong", "next": "/admin/"})
    assert wrong.status_code == 200 and 'id="form-errors"' in wrong.content.decode()
    signed_in = operator.post("/admin/login/", {"username": "olga", "password": PASSWORD, "next": "/admin/"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/admin/"
    assert operator.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_passwords_are_stored_as_argon2_and_old_hashes_are_upgraded(production_hashers, alice, bob, carol, olga):
    for user in get_user_model().objects.all():
        assert user.password.startswith("argon2$argon2id$"), user.username
        assert PASSWORD not in user.password
    legacy = get_user_model().objects.get(username="bob")
    legacy.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    legacy.save()
    assert Client().post("/login/", {"username": "bob", "password": PASSWORD}).status_code == 302
    legacy.refresh_from_db()
    assert legacy.password.startswith("argon2$")


@pytest.mark.django_db(transaction=True)
def test_session_cookie_flags_over_http(live_server, alice):
    with httpx.Client(base_url=live_server.url) as http:
        response = sign_in(http, "alice", PASSWORD)
        assert response.status_code == 302
        cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
        assert "httponly" in cookies["sessionid"]
        assert "samesite=lax" in cookies["sessionid"] or "samesite=strict" in cookies["sessionid"]
        assert "samesite=lax" in cookies["csrftoken"] or "samesite=strict" in cookies["csrftoken"]
        assert http.get("/listings/").status_code == 200


@pytest.mark.django_db
def test_a_session_is_renewed_at_sign_in_and_ends_at_sign_out(alice):
    client = Client()
    client.get("/login/")
    client.cookies["sessionid"] = "attackerchosensessionkey0123456789"
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    key = client.cookies["sessionid"].value
    assert key != "attackerchosensessionkey0123456789"
    client.post("/logout/")
    stolen = Client()
    stolen.cookies["sessionid"] = key
    response = stolen.get("/listings/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/",
                                    "https:evil.example", "\\\\evil.example", "javascript:alert(1)"])
def test_redirects_after_sign_in_and_language_change_stay_on_the_site(alice, target):
    client = Client()
    response = client.post(f"/login/?next={target}", {"username": "alice", "password": PASSWORD, "next": target})
    assert response.status_code == 302 and response["Location"].startswith("/") \
        and not response["Location"].startswith(("//", "/\\")), response["Location"]
    language = client.post("/i18n/setlang/", {"language": "fr", "next": target}, headers={"Referer": target})
    assert language["Location"].startswith("/") and not language["Location"].startswith(("//", "/\\"))


@pytest.mark.django_db(transaction=True)
def test_security_headers_on_every_kind_of_response_over_http(live_server, italy, adco, alice, adco_token):
    with httpx.Client(base_url=live_server.url) as http:
        responses = {path: http.get(path) for path in [
            "/", "/check/?q=films.example", "/login/", "/statistics/", f"/members/{adco.slug}/badge.svg",
            "/no-such-page/", "/api/v1/check?q=films.example", "/api/v1/openapi.json", "/api/v1/docs",
            "/api/v1/no-such-endpoint", "/statistics/listings-by-country.csv"]}
        responses["feed"] = http.get("/api/v1/feed", headers={"Authorization": f"Bearer {adco_token}"})
        sign_in(http, "alice", PASSWORD)
        responses["/listings/"] = http.get("/listings/")
    for path, response in responses.items():
        assert response.status_code < 500, path
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer"), path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert "Traceback" not in response.text, path
    private = responses["/listings/"].headers
    assert "private" in private.get("Cache-Control", "") or "Cookie" in private.get("Vary", ""), \
        "a page with private notes may be stored by a shared cache"


@pytest.mark.django_db
def test_a_forged_host_header_is_refused(alice):
    for host in ["evil.example", "127.0.0.1.evil.example", "localhost:80@evil.example"]:
        response = Client(HTTP_HOST=host, raise_request_exception=False).get("/members/x/badge.svg")
        assert response.status_code == 400, host


def test_djangos_deployment_checks_pass_in_production_configuration(tmp_path):
    """`check --deploy` with the documented production switches: only HSTS and the HTTPS redirect are
    left to the TLS-terminating proxy in front of `sitealert serve`."""
    import os
    import secrets
    import subprocess
    import sys

    env = {**os.environ, "SITEALERT_DATA_DIR": str(tmp_path), "SITEALERT_SECURE_COOKIES": "1",
           "SITEALERT_SECRET_KEY": secrets.token_urlsafe(50), "SITEALERT_DEBUG": "0",
           "DJANGO_SETTINGS_MODULE": "sitealert.settings"}
    env.pop("SITEALERT_DATABASE_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # the browser tests' setting, not the server's
    result = subprocess.run([sys.executable, "-m", "django", "check", "--deploy"], env=env, capture_output=True,
                            text=True, timeout=120)
    issues = set(re.findall(r"\(([a-z_]+\.[WE]\d+)\)", result.stdout + result.stderr))
    assert issues <= {"security.W004", "security.W008"}, result.stdout + result.stderr


@pytest.mark.django_db
def test_concurrent_guesses_cannot_pass_the_limit_between_check_and_count(low_login_rate, alice, monkeypatch):
    """Each attempt is counted before its password is checked: requests that are all in flight at
    once (simulated by checking every password only after all have been counted) still get at most
    LOGIN_RATE password checks."""
    from django.contrib.auth import forms

    checked = []
    original = forms.AuthenticationForm.clean

    def counting_clean(self):
        checked.append(self.data.get("password"))
        return original(self)

    monkeypatch.setattr(forms.AuthenticationForm, "clean", counting_clean)
    guesser = Client(REMOTE_ADDR="198.51.100.60")
    statuses = [guesser.post("/login/", {"username": "alice", "password": f"guess {i}"}).status_code
                for i in range(low_login_rate + 5)]
    assert len(checked) == low_login_rate
    assert statuses.count(429) == 5


@pytest.mark.django_db
def test_a_successful_sign_in_gives_its_attempt_back(low_login_rate, alice):
    client = Client(REMOTE_ADDR="198.51.100.61")
    for _ in range(low_login_rate + 2):
        assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
        client.logout()
    for i in range(low_login_rate):
        assert client.post("/login/", {"username": "alice", "password": f"guess {i}"}).status_code == 200
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_look_alike_spellings_of_a_username_share_its_limit(low_login_rate, alice):
    """Django signs 'ａｌｉｃｅ' (full-width) in as alice (NFKC): each spelling must not get guesses of its own."""
    for i, spelling in enumerate(["alice", "ＡLICE", "ａlice"]):
        Client(REMOTE_ADDR=f"198.51.100.{60 + i}").post("/login/", {"username": spelling, "password": f"guess {i}"})
    response = Client(REMOTE_ADDR="198.51.100.70").post("/login/", {"username": "ａｌｉｃｅ", "password": PASSWORD})
    assert response.status_code == 429


@pytest.mark.django_db
def test_operator_staff_in_a_contributor_cannot_issue_themselves_a_token(italy, client):
    """The admin and the CLI refuse such an account; if one exists anyway, the site refuses it a token
    as it refuses it the listings (a token carries no user, so the API could not tell)."""
    from sitealert.organizations.models import ApiToken, Membership

    user = get_user_model().objects.create_user("staff-in-italy", password=PASSWORD, is_staff=True)
    Membership.objects.create(user=user, organization=italy)
    client.force_login(user)
    client.post("/tokens/", {"name": "sneaky", "days": 30})
    assert not ApiToken.objects.filter(organization=italy, name="sneaky").exists()
