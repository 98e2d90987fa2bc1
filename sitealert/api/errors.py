"""Every API error is JSON: {"error": "<code>", "detail": "<message in the client's language>"}.

Views and the authentication raise `ApiError`; `install` turns it, Django Ninja's own errors
and Django's exceptions into that shape.
"""

import json

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja.errors import AuthenticationError, HttpError, ValidationError


class ApiError(Exception):
    def __init__(self, status, code, detail, *, headers=None, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, str(detail)
        self.headers = headers or {}
        self.extra = extra

    def response(self):
        response = json_response({"error": self.code, "detail": self.detail, **self.extra}, status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def json_response(data, status=200):
    """Compact JSON, rendered directly: large documents skip a second validation pass."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(body.encode("utf-8"), status=status, content_type="application/json")


def describe_validation_errors(errors):
    """'items[3]: Input should be a valid string; reason: Field required' from pydantic's list."""
    described = []
    for error in errors[:5]:
        loc = [part for part in error.get("loc", ()) if part not in ("body", "query", "form", "file", "payload")]
        where = ""
        for part in loc:
            where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
        described.append(f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", "")))
    if len(errors) > 5:
        more = len(errors) - 5
        described.append(ngettext("and %(n)d more problem", "and %(n)d more problems", more) % {"n": more})
    return "; ".join(described)


def install(api):
    @api.exception_handler(ApiError)
    def api_error(request, exc):
        return exc.response()

    @api.exception_handler(ValidationError)
    def invalid_request(request, exc):
        if _empty_body(request):
            return _empty_body_error().response()
        return ApiError(422, "invalid_request", _("The request is not valid: %(problems)s.") % {
            "problems": describe_validation_errors(exc.errors)}).response()

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return authentication_required().response()

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        if exc.status_code == 400 and str(exc) == "Cannot parse request body":
            if _empty_body(request):
                return _empty_body_error().response()
            return ApiError(400, "invalid_request", _("The request body is not valid JSON.")).response()
        return ApiError(exc.status_code, "error", str(exc)).response()

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc):
        return ApiError(403, "forbidden", str(exc) or _("You do not have permission to do this.")).response()

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return ApiError(404, "not_found", _("Not found.")).response()

    @api.exception_handler(RequestDataTooBig)
    def too_big(request, exc):
        return ApiError(413, "request_too_large", _("The request body is too large.")).response()


def _empty_body(request):
    return request.method == "POST" and not request.content_type.startswith("multipart/") and not request.body.strip()


def _empty_body_error():
    return ApiError(400, "invalid_request", _(
        "The request body is empty; send a JSON document as described at /api/v1/docs."))


def authentication_required():
    return ApiError(401, "authentication_required",
                    _("This endpoint needs an API token: send the header 'Authorization: Bearer <token>'."),
                    headers={"WWW-Authenticate": 'Bearer realm="SiteAlert"'})


def not_found_view(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer in the API's own shape."""
    return ApiError(404, "not_found", _("There is no API endpoint at %(path)s. The endpoints are listed at "
                                        "/api/v1/docs.") % {"path": request.path}).response()
