"""The demo's outbox: operator staff read the mail the file backend wrote, in demo mode only."""

import pytest
from django.core import mail


@pytest.fixture
def demo_mail(settings, tmp_path):
    settings.SITEALERT = {**settings.SITEALERT, "DEMO_OUTBOX": True}
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    return tmp_path / "mail"


def test_staff_read_sent_mail_newest_first_with_clickable_links(demo_mail, olga, login):
    mail.send_mail("Confirm your review request", "Open http://127.0.0.1:8000/review-requests/confirm/abc/ "
                   "within 48 hours.\n<script>alert(1)</script>", None, ["site-owner@films.example"])
    with mail.get_connection() as connection:  # one file holding two messages, as a batch sends them
        mail.EmailMessage("Réponse à votre demande", "Статус: https://sitealert.example/review-requests/s/x/",
                          to=["a@films.example"], connection=connection).send()
        mail.EmailMessage("Reminder", "Due soon.", to=["office@it-office.example"], connection=connection).send()
    body = login(olga).get("/outbox/").content.decode()
    assert body.index("Reminder") < body.index("Réponse à votre demande") < body.index("Confirm your review request")
    assert '<a href="http://127.0.0.1:8000/review-requests/confirm/abc/"' in body
    assert '<a href="https://sitealert.example/review-requests/s/x/"' in body and "Статус" in body
    assert "site-owner@films.example" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_an_empty_outbox_says_where_mail_will_appear(demo_mail, olga, login):
    body = login(olga).get("/outbox/").content.decode()
    assert "No mail has been sent yet" in body and str(demo_mail) in body


def test_the_admin_home_and_the_check_your_email_page_point_to_it_in_demo_mode(demo_mail, olga, login, client):
    assert 'href="/outbox/"' in client.get("/review-requests/sent/").content.decode()
    assert 'href="/outbox/"' in login(olga).get("/admin/").content.decode()


def test_only_operator_staff_may_read_it(demo_mail, alice, carol, login, client):
    assert client.get("/outbox/").status_code == 302  # to the sign-in page
    assert login(alice).get("/outbox/").status_code == 403
    assert login(carol).get("/outbox/").status_code == 403


@pytest.mark.django_db
def test_outside_demo_mode_there_is_no_outbox(settings, olga, login, client):
    assert settings.SITEALERT["DEMO_OUTBOX"] is False  # the production default
    assert "outbox" not in client.get("/review-requests/sent/").content.decode()
    staff = login(olga)
    assert staff.get("/outbox/").status_code == 404
    assert "/outbox/" not in staff.get("/admin/").content.decode()
