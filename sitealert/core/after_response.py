"""Work a request causes but its answer does not wait for.

`after_response(task)` runs `task()` once the current request's answer has gone out — Django's
`request_finished`, which the WSGI server sends after the last byte of the body — in the thread
that served it; outside a request (a command, the worker, a test without the client) it runs at
once. A task that fails is logged: its request has been answered already.

The one user is `bulk.refresh_statistics`: PostgreSQL's statistics of a table that a large upload
grew by a tenth, which only the following requests' plans need, and whose `ANALYZE` (up to 3 s at
ten million listings) the person who uploaded should not wait for.
"""

import logging

from asgiref.local import Local
from django.core.signals import request_finished, request_started

logger = logging.getLogger(__name__)

_request = Local()


def after_response(task):
    """Run `task()` after the current request's answer has been sent, or now outside a request."""
    pending = getattr(_request, "pending", None)
    if pending is None:
        _run([task])
    else:
        pending.append(task)


def _started(**kwargs):
    # Tasks a request left because its server never closed the answer run before the next one.
    _run(getattr(_request, "pending", None) or [])
    _request.pending = []


def _finished(**kwargs):
    pending = getattr(_request, "pending", None)
    _request.pending = None
    # After Django's own receiver: a connection it closed as past its age (DB_CONN_MAX_AGE) and a
    # task opened again is closed at this thread's next request, as any connection past its age.
    _run(pending or [])


def _run(tasks):
    for task in tasks:
        try:
            task()
        except Exception:  # the answer has gone out: there is no one to tell but the log
            logger.exception("a task after the response failed: %s", getattr(task, "__qualname__", task))


def connect():
    """Follow the requests of this process (CoreConfig.ready)."""
    request_started.connect(_started, dispatch_uid="sitealert.after_response.started")
    request_finished.connect(_finished, dispatch_uid="sitealert.after_response.finished")
