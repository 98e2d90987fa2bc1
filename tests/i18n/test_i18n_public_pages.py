"""Every public page in the six languages; Arabic right to left."""

import pytest

from sitealert.procedures.models import OperatingProcedure

# (language cookie value, html lang, dir, the check page's heading in that language)
LANGUAGES = [
    ("ar", "ar", "rtl", "التحقق من موقع أو تطبيق"),
    ("zh-hans", "zh-hans", "ltr", "查询网站或应用"),
    ("en", "en", "ltr", "Check a site or app"),
    ("fr", "fr", "ltr", "Vérifier un site ou une application"),
    ("ru", "ru", "ltr", "Проверить сайт или приложение"),
    ("es", "es", "ltr", "Comprobar un sitio o una aplicación"),
]


@pytest.fixture
def world(italy, adco, list_targets):
    list_targets(italy, ["pirate.test"])
    OperatingProcedure.objects.create(organization=italy, language="en", description="D", contact="C",
                                      criteria="K", procedure="P")
    return italy, adco


def pages(italy, adco):
    return [
        "/check/", "/check/?q=pirate.test", "/check/?q=free.test", "/check/?q=1.2.3.4",
        "/procedures/", f"/procedures/{italy.slug}/", f"/procedures/{italy.slug}/history/",
        "/review-requests/new/?target=pirate.test", "/review-requests/sent/", "/statistics/",
        f"/members/{adco.slug}/",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("cookie, lang, direction, heading", LANGUAGES, ids=[lang[0] for lang in LANGUAGES])
def test_every_page_in_every_language(client, settings, world, cookie, lang, direction, heading):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie
    for url in pages(*world):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert f'<html lang="{lang}" dir="{direction}">' in html, url
    assert heading in client.get("/check/").content.decode()


@pytest.mark.django_db
def test_arabic_answers_are_translated(client, settings, world):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"

    listed = client.get("/check/?q=pirate.test").content.decode()
    unlisted = client.get("/check/?q=free.test").content.decode()
    statistics = client.get("/statistics/").content.decode()

    assert "مدرج في القائمة" in listed and "طلب مراجعة" in listed
    assert "غير مدرج في القائمة" in unlisted
    assert "الإحصاءات" in statistics and "is on the list" not in listed


@pytest.mark.django_db
def test_review_request_emails_are_in_the_requesters_language(client, settings, italy, list_targets, mailoutbox):
    list_targets(italy, ["pirate.test"])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    client.post("/review-requests/new/", {"target": "pirate.test", "name": "Sam", "email": "sam@site.test",
                                          "relationship": "operator", "reasons": "Erreur."})

    (message,) = mailoutbox
    assert message.subject.endswith("Confirmez votre demande de réexamen pour pirate.test")
    assert "Bonjour Sam," in message.body and "Le lien est valable 48 heures." in message.body


@pytest.mark.django_db
def test_badge_follows_the_language(client, world):
    _, adco = world
    svg = client.get(f"/members/{adco.slug}/badge.svg", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Уполномоченный пользователь: AdCo Exchange" in svg
