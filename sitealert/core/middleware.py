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
