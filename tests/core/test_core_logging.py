"""A refused request is logged as one warning line, not as an error with a traceback."""

import logging
import sys

import pytest
from django.urls import reverse


def console_output(records):
    """What the configured console handler writes for these records."""
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    return "\n".join(handler.format(r) for r in records if handler.filter(r))


@pytest.mark.django_db
def test_a_refused_page_logs_no_traceback(client, carol, caplog):
    client.force_login(carol)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get(reverse("monitoring:dashboard")).status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records and all(r.levelno == logging.WARNING for r in records)
    output = console_output(records)
    assert "Forbidden (Permission denied): /" in output
    assert "Traceback" not in output and "PermissionDenied" not in output


def test_a_server_error_keeps_its_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("django.request").makeRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error: /", (), sys.exc_info(),
            extra={"status_code": 500})
    assert "Traceback" in console_output([record]) and "RuntimeError: boom" in console_output([record])
