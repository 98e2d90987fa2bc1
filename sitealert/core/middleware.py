"""Middleware: security headers on every response, and gzip that honours a refusal."""

from django.middleware.gzip import GZipMiddleware as DjangoGZipMiddleware
from django.utils.cache import patch_vary_headers


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
    """Django's, except that "gzip;q=0" (gzip refused) is honoured: Django's only looks for the word."""

    def process_response(self, request, response):
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
