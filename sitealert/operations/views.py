"""GET /healthz, /readyz and /metrics: for load balancers, orchestrators and Prometheus. They only read."""

from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.http import require_safe

from sitealert.core.actors import client_ip
from sitealert.core.conf import setting
from sitealert.operations import exposition, health
from sitealert.organizations import permissions


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


@require_safe
def healthz(request):
    """The process answers: nothing else is checked, so a restart is the only remedy for a failure."""
    return _no_store(JsonResponse({"status": "ok"}))


@require_safe
def readyz(request):
    checks = health.readiness()
    failed = [name for name, result in checks.items() if result != health.OK]
    body = {"status": "not ready" if failed else "ready", "failed": failed, "checks": checks}
    return _no_store(JsonResponse(body, status=503 if failed else 200))


def _bearer(request):
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


@require_safe
def metrics(request):
    if not permissions.can_read_metrics(client_ip(request), _bearer(request), networks=setting("METRICS_ALLOW"),
                                        token=setting("METRICS_TOKEN")):
        return _no_store(HttpResponseForbidden("/metrics is open to the addresses in SITEALERT_METRICS_ALLOW or to "
                                               "the bearer token SITEALERT_METRICS_TOKEN\n",
                                               content_type="text/plain; charset=utf-8"))
    body, content_type = exposition.render(request.headers.get("Accept", ""))
    return _no_store(HttpResponse(body, content_type=content_type))
