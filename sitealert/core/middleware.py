"""Middleware: security headers on every response, gzip that honours a refusal, and the browser's
middleware (sessions, logins, second factor, messages) kept off the token-authenticated API."""

from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as DjangoMessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.utils.cache import patch_vary_headers
from django_otp.middleware import OTPMiddleware as DjangoOTPMiddleware

API_PATH = "/api/"


def pages_only(middleware):
    """`middleware` for every path but the API's. API requests carry a bearer token, never a
    session cookie: loading a session, a login, an OTP device and messages there is work a
    request does not need (about 0.4 ms of a feed 304, profiled). Views and context processors
    read `request.user` with getattr, so its absence on the API is no error."""

    class PagesOnly(middleware):
        def __call__(self, request):
            if request.path_info.startswith(API_PATH):
                return self.get_response(request)
            return super().__call__(request)

    PagesOnly.__name__ = PagesOnly.__qualname__ = middleware.__name__
    PagesOnly.__doc__ = f"{middleware.__module__}.{middleware.__name__}, except on {API_PATH}."
    return PagesOnly


SessionMiddleware = pages_only(DjangoSessionMiddleware)
AuthenticationMiddleware = pages_only(DjangoAuthenticationMiddleware)
OTPMiddleware = pages_only(DjangoOTPMiddleware)
MessageMiddleware = pages_only(DjangoMessageMiddleware)


def accepts_gzip(request):
    """Whether Accept-Encoding allows gzip (explicitly or by '*'), honouring q=0."""
    allowed = {}
    for part in request.headers.get("Accept-Encoding", "").split(","):
        coding, _sep, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        allowed[coding.strip().lower()] = q
    return allowed.get("gzip", allowed.get("x-gzip", allowed.get("*", 0.0))) > 0


class GZipMiddleware(DjangoGZipMiddleware):
    """Django's, except that "gzip;q=0" (gzip refused) is honoured: Django's only looks for the word,
    and that a gzip file (the signed mirror's lists) is not compressed a second time."""

    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("application/gzip"):
            return response
        if not accepts_gzip(request):
            # The answer still depends on Accept-Encoding: a shared cache must not give this copy to all.
            patch_vary_headers(response, ("Accept-Encoding",))
            return response
        return super().process_response(request, response)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and related headers on every response."""

    POLICY = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    # The interactive API docs (vendored Swagger UI) need inline styles.
    DOCS_POLICY = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            policy = self.DOCS_POLICY if request.path.startswith("/api/v1/docs") else self.POLICY
            response["Content-Security-Policy"] = policy
        response.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        return response
