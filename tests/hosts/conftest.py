"""sitealert.hosts is pure Python: its tests must run without Django (pytest -p no:django).

The root conftest's autouse fixtures need pytest-django's `settings` and Django's cache; these
same-named fixtures shadow them for this directory only.
"""

import pytest


@pytest.fixture(autouse=True)
def _feed_cache_in_tmp():
    yield


@pytest.fixture(autouse=True)
def _fresh_cache():
    yield
