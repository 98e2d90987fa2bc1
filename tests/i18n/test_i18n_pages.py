"""Every page speaks the visitor's language, right to left in Arabic, with a language switcher."""

import re

import pytest

LANGUAGES = {"ar": "rtl", "zh-hans": "ltr", "en": "ltr", "fr": "ltr", "ru": "ltr", "es": "ltr"}
# (page, who is signed in); the login label proves the page itself is translated.
PAGES = [("/", None), ("/login/", None), ("/no-such-page/", None), ("/check/", None),
         ("/listings/", "alice"), ("/listings/upload/", "alice"), ("/tokens/", "alice"),
         ("/download/", "carol"), ("/tokens/", "carol")]
LOG_IN = {"ar": "تسجيل الدخول", "zh-hans": "登录", "en": "Log in", "fr": "Se connecter", "ru": "Войти",
          "es": "Iniciar sesión"}
LOG_OUT = {"ar": "تسجيل الخروج", "zh-hans": "退出登录", "en": "Log out", "fr": "Se déconnecter", "ru": "Выйти",
           "es": "Cerrar sesión"}


def switcher_languages(body):
    form = re.search(r'<form class="language-switcher".*?</form>', body, re.S)
    assert form, "no language switcher"
    assert 'action="/i18n/setlang/"' in form.group(0) and 'name="csrfmiddlewaretoken"' in form.group(0)
    assert re.search(r'<label for="language-select">[^<]+</label>', form.group(0))
    assert 'type="submit"' in form.group(0)
    return re.findall(r'<option value="([\w-]+)"', form.group(0))


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("url, who", PAGES)
def test_page_in_every_language(request, client, language, url, who):
    if who:
        client.force_login(request.getfixturevalue(who))
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == (404 if url == "/no-such-page/" else 200)
    body = response.content.decode()
    assert f'<html lang="{language}" dir="{LANGUAGES[language]}">' in body
    assert switcher_languages(body) == list(LANGUAGES)
    assert (LOG_OUT if who else LOG_IN)[language] in body


@pytest.mark.django_db
def test_switcher_works_without_javascript(client):
    response = client.post("/i18n/setlang/", {"language": "ar", "next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    body = client.get("/login/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="ar" dir="rtl">' in body
    assert '<option value="ar" lang="ar" selected>' in body


@pytest.mark.django_db
def test_service_messages_are_translated_in_pages(client, alice):
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "ru", "next": "/"})
    response = client.post("/listings/add/", {"target": "films.example", "category": "nope"})
    assert "Выберите корректный вариант" in response.content.decode()  # Django's own form message
    response = client.post("/listings/add/", {"target": "http://10.0.0.1/", "category": "other"})
    assert "это IP-адрес" in response.content.decode()
