"""Times every request for /metrics, by route: the URL pattern that matched, never the raw path,
so that the number of series stays bounded whatever clients ask for."""

import time

from sitealert.core import metrics

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    """Seconds until the response is handed to the server (the first byte of a streamed download)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else "unmatched"
        method = request.method if request.method in METHODS else "other"
        metrics.observe_request(route, method, time.perf_counter() - started)
        return response
