"""The request body, read whole before Django sees it, within a time and a size.

`BodyReader` wraps the WSGI application (`sitealert serve`, `sitealert.wsgi`). A slow client —
a `Content-Length` whose bytes never arrive — would otherwise hold a worker for as long as it
likes: `SITEALERT_REQUEST_BODY_TIMEOUT` bounds the whole read (gunicorn hands us the socket, whose
timeout is set to what is left before each read). A body sent with `Transfer-Encoding: chunked`
has no length, which Django reads as an empty body: it is read here like any other and given one.
The body goes to a temporary file past `MEMORY_BYTES`, so a worker holds at most that much of
it in memory while reading; over `DATA_UPLOAD_MAX_MEMORY_SIZE` bytes (`SITEALERT_MAX_REQUEST_BYTES`)
the rest is not read at all.

A body that is too slow or too large is not answered here: the request goes on with no body and
`environ["sitealert.body_error"]`, which `RequestBodyErrorMiddleware` answers in the client's language.
"""

import json
import tempfile
import time

from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import gettext as _

from sitealert.core.conf import setting

MEMORY_BYTES = 1024 * 1024
READ_BYTES = 64 * 1024
BODY_ERROR = "sitealert.body_error"


class BodyReader:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if chunked or length > 0:
            self._read(environ, None if chunked else length)
        return self.app(environ, start_response)

    def _read(self, environ, length):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length is not None and length > limit:
            return self._fail(environ, "too_large")
        stream = environ["wsgi.input"]
        sock = environ.get("gunicorn.socket")
        previous_timeout = sock.gettimeout() if sock is not None else None
        deadline = time.monotonic() + setting("REQUEST_BODY_TIMEOUT")
        body = tempfile.SpooledTemporaryFile(max_size=MEMORY_BYTES)
        size = 0
        try:
            while length is None or size < length:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._fail(environ, "timeout")
                if sock is not None:
                    sock.settimeout(remaining)
                want = READ_BYTES if length is None else min(READ_BYTES, length - size)
                chunk = stream.read(min(want, limit + 1 - size))
                if not chunk:
                    break  # the client closed early: Django sees what came
                size += len(chunk)
                if size > limit:
                    return self._fail(environ, "too_large")
                body.write(chunk)
        except TimeoutError:
            return self._fail(environ, "timeout")
        finally:
            if sock is not None:
                sock.settimeout(previous_timeout)
        body.seek(0)
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)

    @staticmethod
    def _fail(environ, error):
        environ[BODY_ERROR] = error
        environ["wsgi.input"] = tempfile.SpooledTemporaryFile(max_size=1)
        environ["CONTENT_LENGTH"] = "0"
        environ.pop("HTTP_TRANSFER_ENCODING", None)


class RequestBodyErrorMiddleware:
    """Answers a request whose body `BodyReader` could not read: 408 or 413, JSON under /api/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        error = request.META.get(BODY_ERROR)
        if error is None:
            return self.get_response(request)
        if error == "timeout":
            status, code = 408, "request_timeout"
            detail = _("The request body did not arrive within %(seconds)d seconds.") % {
                "seconds": setting("REQUEST_BODY_TIMEOUT")}
        else:
            status, code = 413, "request_too_large"
            detail = _("The request body is larger than %(limit)d bytes.") % {
                "limit": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
        if request.path.startswith("/api/"):
            response = HttpResponse(json.dumps({"error": code, "detail": detail}, ensure_ascii=False),
                                    status=status, content_type="application/json")
        else:
            response = HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")
        response["Connection"] = "close"
        return response
