"""Logging filters named in `settings.LOGGING`."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (403, a 400 for a malformed body, a suspicious Host) is the client's
    error, not ours: Django logs it with the exception's traceback, which buried real errors under
    hundreds of tracebacks of refused pages. Keep the one warning line; 5xx keep their traceback."""

    def filter(self, record):
        status = getattr(record, "status_code", None)
        client_error = (status is not None and 400 <= status < 500) or record.name.startswith("django.security.")
        if client_error and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
