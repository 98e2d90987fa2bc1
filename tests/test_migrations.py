"""The migrations describe the models: a model change without its migration fails here, not on a
production `sitealert migrate`, as NetBox's CI runs `makemigrations --check`."""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db  # makemigrations checks the database's migration history too
def test_models_and_migrations_agree():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail("the models differ from their migrations; write the migration with\n"
                    "  DJANGO_SETTINGS_MODULE=sitealert.settings .venv/bin/python -m django makemigrations\n"
                    + out.getvalue(), pytrace=False)
