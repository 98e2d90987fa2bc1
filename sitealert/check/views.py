"""The public check page: one domain, web address or app at a time, rate-limited per client.

A page for someone not signed in depends only on its address (the query), the language and the
list: it is kept per version of the list (`feed.state.PerVersion`), with the form's CSRF token put
in afresh for each request, so that a query checked again costs the rate limit's count and a
dictionary lookup (the version is the process's, `feed.state.current_state`) instead of the check's
query and the page's rendering (most of it).
"""

import secrets

from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.translation import get_language

from sitealert.check import services
from sitealert.core.actors import client_ip
from sitealert.core.pages import too_many_requests
from sitealert.feed.state import PerVersion, current_state

# What the page's forms carry instead of the CSRF token while it is rendered for the cache: letters
# and digits only, so escaping leaves it as it is.
TOKEN_PLACEHOLDER = "csrf" + secrets.token_hex(16)


# Rendered pages by (language, address), about 5 kB each: at most 10 MB.
_pages = PerVersion(max_items=2_000, max_seconds=60)


def check(request):
    query = request.GET.get("q")
    if query is not None:
        wait = services.check_wait(client_ip(request))
        if wait:
            return too_many_requests(request, wait)
    if request.user.is_authenticated or len(get_messages(request)):  # pages of their own
        return render(request, "check/check.html", _context(query))
    pages = _pages.items(current_state())
    address = (get_language(), request.get_full_path())
    page = pages.get(address)
    if page is None:
        page = render(request, "check/check.html", {**_context(query), "csrf_token": TOKEN_PLACEHOLDER}).content
        _pages.keep(pages, address, page)
    return HttpResponse(page.replace(TOKEN_PLACEHOLDER.encode(), get_token(request).encode()))


def _context(query):
    return {"query": query or "", "result": None if query is None else services.check_target(query)}
