"""The two floors benchmarks/bench_http.py measures SiteAlert's endpoints against, on the same server settings.

- bare WSGI: `application`, a WSGI callable answering every request with the same small JSON body,
  no framework, served by gunicorn with `sitealert serve`'s settings (workers, timeout, access log);
- minimal Django view: this module used as DJANGO_SETTINGS_MODULE for `sitealert serve` itself:
  the project's settings (middleware, database, sessions, security headers) and the same gunicorn
  configuration, with an URLconf of one view that answers that body and touches nothing else.
"""

from django.http import HttpResponse
from django.urls import path

from sitealert.settings import *  # noqa: F403  (the project's settings, all of them)

BODY = b'{"ok": true}'
ROOT_URLCONF = "http_floors"


def floor(request):
    return HttpResponse(BODY, content_type="application/json")


urlpatterns = [path("healthz", floor), path("floor", floor)]


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
