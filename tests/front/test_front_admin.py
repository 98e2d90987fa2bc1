"""The admin speaks the reader's language: a language switcher on every page, translatable field
names, and audit actions and channels by their labels rather than their codes."""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.utils.functional import Promise

import sitealert
from sitealert.core import audit
from sitealert.core.actors import Actor
from sitealert.core.models import AuditEvent
from sitealert.front.admin import ACTION_LABELS, CHANNEL_LABELS

PACKAGE = Path(sitealert.__file__).parent


def switcher(body):
    match = re.search(r'<form class="language-switcher".*?</form>', body, re.S)
    assert match, "no language switcher on the page"
    return match.group(0)


@pytest.mark.django_db
def test_the_admin_login_page_has_the_language_switcher(client):
    form = switcher(client.get("/admin/login/?next=/admin/").content.decode())
    assert 'action="/i18n/setlang/"' in form and 'name="csrfmiddlewaretoken"' in form
    assert 'name="next" value="/admin/login/?next=/admin/"' in form


@pytest.mark.django_db
@pytest.mark.parametrize("path", [
    "/admin/",
    "/admin/core/auditevent/",
    "/admin/listings/protectedtarget/add/",
    "/admin/organizations/membership/add/",
    "/admin/password_change/",
])
def test_every_admin_page_has_the_language_switcher_keeping_the_path(login, olga, path):
    response = login(olga).get(path)
    assert response.status_code == 200
    body = response.content.decode()
    form = switcher(body)
    assert f'name="next" value="{path}"' in form and 'name="csrfmiddlewaretoken"' in form
    assert body.count('id="language-switcher"') == 1
    assert 'id="header"' in body[:body.index('id="language-switcher"')], "the switcher is in the header"


@pytest.mark.django_db
def test_switching_language_from_the_admin_passes_csrf_and_returns_to_the_page(olga):
    client = Client(enforce_csrf_checks=True)
    client.force_login(olga)
    form = switcher(client.get("/admin/core/auditevent/?q=x").content.decode())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    response = client.post("/i18n/setlang/", {"csrfmiddlewaretoken": token, "language": "ar",
                                              "next": "/admin/core/auditevent/?q=x"})
    assert response.status_code == 302 and response["Location"] == "/admin/core/auditevent/?q=x"
    page = client.get("/admin/core/auditevent/?q=x").content.decode()
    assert 'lang="ar" dir="rtl"' in page and '<option value="ar" lang="ar" selected>' in switcher(page)


def our_models():
    return [model for model in apps.get_models() if model.__module__.startswith("sitealert.")]


def test_every_field_of_every_model_has_a_translatable_name():
    plain = [f"{model._meta.label}.{field.name}: {field.verbose_name!r}"
             for model in our_models() for field in model._meta.concrete_fields
             if not isinstance(field, models.AutoField) and not isinstance(field.verbose_name, Promise)]
    assert our_models() and not plain, "\n".join(plain)


def test_every_model_has_a_translatable_name():
    plain = [f"{model._meta.label}.{attr}" for model in our_models() for attr in ("verbose_name", "verbose_name_plural")
             if not isinstance(model._meta.original_attrs.get(attr), Promise)]
    assert not plain, "\n".join(plain)


def recorded_codes():
    """Every action code the source passes to audit.record, audit.record_many or audit.count, by file and line."""
    codes = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit"
                    and node.func.attr in ("record", "record_many", "count")):
                continue
            action = node.args[1] if len(node.args) > 1 else next(k.value for k in node.keywords if k.arg == "action")
            literals = [c.value for c in ast.walk(action) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
            # A code in a variable would escape this test: spell it out where it is recorded.
            assert literals, f"{where}: the action is not a string literal"
            for code in literals:
                codes.setdefault(code, where)
    return codes


def recorded_channels():
    """Every `via="…"` the source passes to an Actor (or actor_for_request), and the Actor's default."""
    channels = {Actor.via}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.keyword) and node.arg == "via" and isinstance(node.value, ast.Constant):
                channels.add(node.value.value)
    return channels


def test_every_recorded_action_has_a_translatable_label():
    codes = recorded_codes()
    assert len(codes) >= 20, codes  # the scan finds the calls
    missing = [f"{code} ({where})" for code, where in sorted(codes.items()) if code not in ACTION_LABELS]
    assert not missing, "actions without a label in sitealert.front.admin.ACTION_LABELS:\n" + "\n".join(missing)
    assert set(ACTION_LABELS) == set(codes), "labels of actions nothing records"
    assert all(isinstance(label, Promise) for label in ACTION_LABELS.values())


def test_every_channel_has_a_translatable_label():
    channels = recorded_channels()
    assert {"web", "api", "cli"} <= channels
    assert channels <= set(CHANNEL_LABELS), channels - set(CHANNEL_LABELS)
    assert all(isinstance(label, Promise) for label in CHANNEL_LABELS.values())


@pytest.mark.django_db
def test_the_audit_log_shows_labels_and_keeps_the_codes_searchable(login, olga, italy):
    removal = audit.record(Actor(organization=italy, via="cli"), "listing.remove", "films.example")
    unknown = audit.record(Actor(organization=italy, via="api"), "made.up", "films.example")
    client = login(olga)

    page = client.get("/admin/core/auditevent/").content.decode()
    assert '<span title="listing.remove">Listings removed</span>' in page
    assert "<code>listing.remove</code>" in page and "<code>made.up</code>" in page  # no label: the code
    assert '<span title="cli">Command line</span>' in page
    filters = page[page.index('id="changelist-filter"'):]
    assert "Listings removed" in filters and "Command line" in filters and "made.up" in filters

    by_code = client.get("/admin/core/auditevent/", {"q": "listing.remove"}).content.decode()
    assert f"/auditevent/{removal.pk}/change/" in by_code and f"/auditevent/{unknown.pk}/change/" not in by_code
    by_label = client.get("/admin/core/auditevent/", {"q": "listings removed"}).content.decode()
    assert f"/auditevent/{removal.pk}/change/" in by_label and f"/auditevent/{unknown.pk}/change/" not in by_label
    filtered = client.get("/admin/core/auditevent/", {"action": "listing.remove"}).content.decode()
    assert f"/auditevent/{removal.pk}/change/" in filtered and f"/auditevent/{unknown.pk}/change/" not in filtered

    detail = client.get(f"/admin/core/auditevent/{removal.pk}/change/").content.decode()
    assert "Listings removed" in detail and "<code>listing.remove</code>" in detail
    assert AuditEvent.objects.get(pk=removal.pk).action == "listing.remove"


@pytest.mark.django_db
def test_the_audit_log_shows_counted_downloads_once_flushed(login, olga, adco):
    from sitealert.core import tallies

    for _ in range(3):
        audit.count(Actor(organization=adco, via="api"), "feed.download", "txt", {"version": 7})
    tallies.flush()
    event = AuditEvent.objects.get(action="feed.download")
    client = login(olga)
    page = client.get("/admin/core/auditevent/", {"action": "feed.download"}).content.decode()
    assert f"/auditevent/{event.pk}/change/" in page and "Feed downloaded" in page
    detail = client.get(f"/admin/core/auditevent/{event.pk}/change/").content.decode()
    assert "&quot;count&quot;: 3" in detail and "&quot;version&quot;: 7" in detail
