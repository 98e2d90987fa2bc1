"""The public check page: one domain, web address or app at a time, rate-limited per client."""

from django.shortcuts import render

from sitealert.check import services
from sitealert.core.actors import client_ip
from sitealert.core.pages import too_many_requests


def check(request):
    query = request.GET.get("q")
    result = None
    if query is not None:
        wait = services.check_wait(client_ip(request))
        if wait:
            return too_many_requests(request, wait)
        result = services.check_target(query)
    return render(request, "check/check.html", {"query": query or "", "result": result})
