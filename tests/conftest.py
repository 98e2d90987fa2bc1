"""Shared fixtures: a small world of organizations with named people.

- italy (contributor, IT) with alice; korea (contributor, KR) with bob
- adco (authorized user: an ad-tech platform) with carol
- the operator with olga (staff)
Each organization has an API token with its default scope: italy_token, korea_token, adco_token.
"""

import itertools
import os
import re

import pytest

PASSWORD = "correct horse battery staple"
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_reset_sequences",
                     "django_db_serialized_rollback"}


def _uses_test_database(item):
    return (item.get_closest_marker("django_db") is not None or bool(DATABASE_FIXTURES & set(item.fixturenames))
            or hasattr(getattr(item, "cls", None), "databases"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Long tests start first, a module at a time, spread over the xdist workers: `--dist worksteal`
    gives each of the N workers one of N equal runs of the collection, then lets an idle worker take
    the end of another's queue; with the long modules at the heads of the runs, every worker starts
    with some and a pass ends on short tests, not on a long one that one worker took last. Long means
    marked slow. Only tests that leave the test database alone move: pytest-django runs those that use
    it in its own order (transactional ones last, as they empty the tables)."""
    slow = [item for item in items if item.get_closest_marker("slow") and not _uses_test_database(item)]
    if not slow:
        return
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    heads = [[] for _ in range(workers)]
    for n, (_module, tests) in enumerate(itertools.groupby(slow, key=lambda item: item.module)):
        heads[n % workers].extend(tests)
    moved = set(map(id, slow))
    rest = [item for item in items if id(item) not in moved]
    ordered, left = [], len(items)
    for worker, head in enumerate(heads):
        share = left // (workers - worker)  # as worksteal divides the collection
        ordered += head + rest[:max(0, share - len(head))]
        del rest[:max(0, share - len(head))]
        left -= max(share, len(head))
    items[:] = ordered + rest


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Production hashes passwords with argon2, slow on purpose, and most tests create a few accounts:
    the whole session hashes with MD5 instead. Session scope, so that fixtures of every scope and the
    live server's threads see it. tests/security/test_security_passwords.py proves production's argon2."""
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=[FAST_HASHER]):
        yield


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogs():
    """Pages in every language need the .mo files, which are built from the committed .po files."""
    from sitealert.core.i18n import compile_catalogs

    compile_catalogs()


@pytest.fixture(scope="session", autouse=True)
def _migrated_once(tmp_path_factory):
    """tests/migrated.py: the database that `sitealert migrate` made once, which the tests' installations
    copy, is kept for the whole run in its temporary directory (which the xdist workers share)."""
    from tests import migrated

    run = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        run = run.parent  # each worker's own directory is one under the run's
    migrated.use_directory(run / "migrated")
    yield
    migrated.drop_templates()


@pytest.fixture(autouse=True)
def _default_language():
    """A page served in another language leaves that language active in the thread: start each test afresh."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _feed_cache_in_tmp(settings, tmp_path):
    settings.SITEALERT = {**settings.SITEALERT, "FEED_CACHE_DIR": tmp_path / "feed-cache",
                          "FEDERATION_DIR": tmp_path / "federation"}


@pytest.fixture(autouse=True)
def _second_factor_policy(settings):
    """Tests sign people in with force_login and a password only: the policy requires no second
    factor of anyone unless a test asks for one (second_factor_policy). tests/front/
    test_front_second_factor.py and tests/browser/test_browser_second_factor.py hold the default
    policy and every factor."""
    settings.SITEALERT = {**settings.SITEALERT, "SECOND_FACTOR_REQUIRED": ("none",)}


@pytest.fixture
def second_factor_policy(settings):
    """second_factor_policy(*kinds): require a second factor of these (default: the production default)."""

    def _policy(*kinds):
        from sitealert import settings as production

        chosen = kinds or production.SITEALERT["SECOND_FACTOR_REQUIRED"]
        settings.SITEALERT = {**settings.SITEALERT, "SECOND_FACTOR_REQUIRED": tuple(chosen)}

    return _policy


@pytest.fixture(autouse=True)
def _fresh_tallies():
    """What a process counts on reads (rate limits, downloads, tokens) lives in memory until a flush:
    each test starts with none, and the tokens it reads are read afresh."""
    from sitealert.core import tallies

    tallies.clear()
    yield
    tallies.clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    try:
        cache.clear()
    except Exception:  # the cache table exists only for tests that use the database
        pass
    yield


def _org(kind, name, country=""):
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import create_organization

    return create_organization(kind=kind, name=name, country=country, actor=Actor(via="cli"))


def _member(org, username, staff=False):
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import create_member

    return create_member(org, username=username, password=PASSWORD, email=f"{username}@example.test",
                         staff=staff, actor=Actor(via="cli"))


@pytest.fixture
def italy(db):
    return _org("contributor", "Autorità per le Garanzie nelle Comunicazioni", "IT")


@pytest.fixture
def korea(db):
    return _org("contributor", "Korea Copyright Protection Agency", "KR")


@pytest.fixture
def adco(db):
    return _org("user", "AdCo Exchange")


@pytest.fixture
def operator_org(db):
    return _org("operator", "SiteAlert Operations")


@pytest.fixture
def alice(italy):
    return _member(italy, "alice")


@pytest.fixture
def bob(korea):
    return _member(korea, "bob")


@pytest.fixture
def carol(adco):
    return _member(adco, "carol")


@pytest.fixture
def olga(operator_org):
    return _member(operator_org, "olga", staff=True)


def _token(org):
    from sitealert.core.actors import Actor
    from sitealert.organizations.services import issue_token

    return issue_token(org, actor=Actor(via="cli"))[1]


@pytest.fixture
def italy_token(italy):
    return _token(italy)


@pytest.fixture
def korea_token(korea):
    return _token(korea)


@pytest.fixture
def adco_token(adco):
    return _token(adco)


@pytest.fixture
def operator_token(operator_org):
    return _token(operator_org)


def actor(org, via="api"):
    from sitealert.core.actors import Actor

    return Actor(organization=org, via=via)


@pytest.fixture
def login(client):
    """login(user) -> the test client, signed in as that user."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def as_actor():
    return actor


@pytest.fixture
def list_targets():
    """list_targets(org, ['a.example', ...], category='streaming-video') -> Report."""
    from sitealert.listings.services import EntryInput, submit_entries

    def _list(org, targets, category="streaming-video", reference="case-1"):
        report = submit_entries(org, [EntryInput(target=t, category=category, reference=reference) for t in targets],
                                actor=actor(org))
        assert report.applied, report.as_dict()
        return report

    return _list


# --- Review requests ------------------------------------------------------------------------

def links_in(message):
    return re.findall(r"https?://\S+", message.body)


@pytest.fixture
def email_links():
    """email_links(message) -> the web addresses in a sent e-mail."""
    return links_in


@pytest.fixture
def submit_review(client, mailoutbox):
    """submit_review(target, **fields) -> the confirmation link from the e-mail (the request is not confirmed)."""

    def _submit(target, email="owner@site.test", **fields):
        data = {"target": target, "name": "Sam Owner", "email": email, "relationship": "operator",
                "reasons": "We removed all infringing material in March.",
                "evidence": "https://site.test/notice\nhttp://archive.test/x", "homepage": "", **fields}
        before = len(mailoutbox)
        response = client.post("/review-requests/new/", data)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert response["Location"] == "/review-requests/sent/"
        assert len(mailoutbox) == before + 1
        (link,) = [u for u in links_in(mailoutbox[-1]) if "/review-requests/confirm/" in u]
        return link

    return _submit


@pytest.fixture
def confirmed_review(client, submit_review, settings):
    """confirmed_review(target) -> path of the requester's status page."""

    def _confirmed(target, **fields):
        link = submit_review(target, **fields)
        path = link.removeprefix(settings.SITE_URL)
        response = client.post(path)
        assert response.status_code == 302, response.content.decode()[:3000]
        assert "/review-requests/status/" in response["Location"]
        return response["Location"]

    return _confirmed


@pytest.fixture
def italy_case(italy, list_targets, confirmed_review):
    """A confirmed review request about pirate.test, listed by italy: italy's ReviewCase."""
    from sitealert.reviews.models import ReviewCase

    list_targets(italy, ["pirate.test"])
    confirmed_review("pirate.test")
    return ReviewCase.objects.get()
