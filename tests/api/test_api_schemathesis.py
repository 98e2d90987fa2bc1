"""Schemathesis against the API in-process: what the OpenAPI document allows, the server answers in
the documented shapes; what it refuses, the server refuses (negative data is rejected).

Bounded: a few examples per operation. Positive-data acceptance is not checked: a target the
schema cannot tell from a valid one ("0" is an IP address, a PNG is no CSV) is refused on its
meaning, with a 400 or a rejected row in the report, as documented.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation

from tests.api.conftest import bearer

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
FEED_OPERATIONS = ("/api/v1/feed", "/api/v1/feed/changes", "/api/v1/feed/monitoring", "/api/v1/lookup")


@pytest.fixture
def generous_limits(settings):
    settings.SITEALERT = {**settings.SITEALERT, "API_RATE": 100_000, "PUBLIC_CHECK_RATE": 100_000}


@pytest.fixture
def connection_kept():
    """The WSGI handler closes the database connection after each request, which would close the
    test's transaction; Django's own test client keeps it open the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
@pytest.mark.django_db
def test_the_api_does_what_its_schema_says(case, generous_limits, connection_kept, italy_token, adco_token):
    token = adco_token if case.operation.path in FEED_OPERATIONS else italy_token
    # The WSGI test client does not undo gzip, as an HTTP client would.
    headers = {"Accept-Encoding": "identity"}
    # A case whose headers break the schema on purpose (the token left out) goes without one.
    if not (case.meta and case.meta.is_negative_at(ParameterLocation.HEADER)):
        headers.update(bearer(token))
    case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
