import pytest
from django.test import Client

from tests.conftest import PASSWORD


@pytest.fixture
def low_login_rate(settings):
    # Fixed windows: one that spans years keeps a test from straddling two of them.
    settings.SITEALERT = {**settings.SITEALERT, "LOGIN_RATE": 3, "LOGIN_WINDOW": 10**9}


@pytest.mark.django_db
def test_login_and_logout(client, alice):
    page = client.get("/login/")
    assert 'name="username"' in page.content.decode() and 'name="password"' in page.content.decode()
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/listings/").status_code == 200
    assert client.get("/logout/").status_code == 405  # logging out takes a POST
    assert client.post("/logout/").status_code == 302
    assert client.get("/listings/").status_code == 302


@pytest.mark.django_db
def test_wrong_password_is_refused_with_a_message(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "wrong password"})
    assert response.status_code == 200
    assert 'id="form-errors"' in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_login_is_throttled_per_address(low_login_rate, alice):
    client = Client(REMOTE_ADDR="198.51.100.7")
    for i in range(3):
        assert client.post("/login/", {"username": f"guess{i}", "password": "x"}).status_code == 200
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    # Another address is not affected.
    other = Client(REMOTE_ADDR="198.51.100.8")
    assert other.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_login_is_throttled_per_username_across_addresses(low_login_rate, alice):
    for i in range(3):
        Client(REMOTE_ADDR=f"203.0.113.{i}").post("/login/", {"username": "Alice", "password": "x"})
    response = Client(REMOTE_ADDR="203.0.113.99").post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429


@pytest.mark.django_db
def test_login_requires_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 403
    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    response = client.post("/login/", {"username": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302


@pytest.mark.django_db
def test_successful_logins_do_not_count_towards_the_limit(low_login_rate, alice):
    # An office behind one address signs in many times a day; only failures are counted.
    for _ in range(5):
        client = Client(REMOTE_ADDR="198.51.100.20")
        assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
