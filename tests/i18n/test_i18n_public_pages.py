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


def _switch_language(client, page_url, language):
    """Use the page's own language switcher, as a visitor does; returns the page it leads back to."""
    html = client.get(page_url).content.decode()
    form = html.split('id="language-switcher"')[1].split("</form>")[0]
    next_url = form.split('name="next" value="')[1].split('"')[0].replace("&amp;", "&")
    response = client.post("/i18n/setlang/", {"language": language, "next": next_url})
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_switching_the_interface_language_on_a_procedure_page_follows_it(client, italy):
    for language, description in (("fr", "Nous sommes l'autorité."), ("es", "Somos la autoridad.")):
        OperatingProcedure.objects.create(organization=italy, language=language, description=description,
                                          contact="C", criteria="K", procedure="P")

    page = _switch_language(client, f"/procedures/{italy.slug}/?lang=fr", "es")

    assert '<html lang="es" dir="ltr">' in page
    assert "Somos la autoridad." in page and "Nous sommes" not in page
    assert 'id="fallback-notice"' not in page


@pytest.mark.django_db
def test_switching_to_a_language_the_procedure_lacks_says_so(client, italy):
    OperatingProcedure.objects.create(organization=italy, language="fr", description="Nous sommes l'autorité.",
                                      contact="C", criteria="K", procedure="P")

    page = _switch_language(client, f"/procedures/{italy.slug}/?lang=fr", "ru")

    assert '<html lang="ru" dir="ltr">' in page and 'id="fallback-notice"' in page
    assert "Nous sommes l&#x27;autorité." in page


@pytest.mark.django_db
def test_switching_language_elsewhere_keeps_the_query(client, italy, list_targets):
    list_targets(italy, ["pirate.test"])

    page = _switch_language(client, "/check/?q=pirate.test", "fr")

    assert '<html lang="fr" dir="ltr">' in page and "pirate.test" in page


@pytest.mark.django_db
@pytest.mark.parametrize("language, name", [
    ("en", "Republic of Korea"), ("fr", "République de Corée"), ("es", "República de Corea"),
    ("ru", "Республика Корея"), ("zh-hans", "大韩民国"), ("ar", "جمهورية كوريا")])
def test_country_names_are_written_as_the_authorities_write_them(client, settings, korea, language, name):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    html = client.get(f"/procedures/{korea.slug}/").content.decode()

    assert f"<dd>{name}</dd>" in html


@pytest.mark.django_db
@pytest.mark.parametrize("cookie", ["ar", "zh-hans", "fr", "ru", "es"])
def test_the_review_limit_message_is_translated(client, settings, italy, list_targets, cookie):
    list_targets(italy, ["pirate.test"])
    settings.SITEALERT = {**settings.SITEALERT, "REVIEW_REQUEST_IP_RATE": 0}
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie

    response = client.post("/review-requests/new/", {"target": "pirate.test", "name": "Sam", "relationship": "operator",
                                                     "email": "sam@site.test", "reasons": "Erreur."})

    html = response.content.decode()
    assert response.status_code == 429 and 'id="review-limited"' in html
    assert "Your request has not been sent" not in html and "Please try again in" not in html


@pytest.mark.django_db
def test_procedures_are_found_by_the_country_name_in_the_readers_language(client, settings, italy, korea):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"

    html = client.get("/procedures/", {"q": "италия"}).content.decode()

    table = html.split('id="procedures-table"')[1]
    assert italy.name in table and korea.name not in table
    assert "Найти" in html and "Все страны" in html
