"""The public check page: one domain, web address or app at a time, rate-limited per client.

A page for someone not signed in depends only on its address (the query), the language and the
list: it is kept per version of the list (`Pages`), with the form's CSRF token put in afresh for
each request, so that a query checked again costs the rate limit's count, the version's statement
and a dictionary lookup instead of the check's query and the page's rendering (most of it).
"""

import secrets
import time

from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.translation import get_language

from sitealert.check import services
from sitealert.core.actors import client_ip
from sitealert.core.pages import too_many_requests
from sitealert.feed.state import current_state

# What the page's forms carry instead of the CSRF token while it is rendered for the cache: letters
# and digits only, so escaping leaves it as it is.
TOKEN_PLACEHOLDER = "csrf" + secrets.token_hex(16)


class Pages:
    """Rendered check pages of one version of the list, by (language, address). At most MAX_PAGES
    (about 5 kB each: 10 MB), then it starts afresh; and after MAX_SECONDS, so that what changes without
    a new version (an authority's name) shows within a minute."""

    MAX_PAGES = 2_000
    MAX_SECONDS = 60

    def __init__(self, key=None):
        self.key, self.by_address, self.started = key, {}, time.monotonic()

    def for_state(self, state):
        """These pages if they are of `state`'s version and young enough, else new empty ones."""
        key = (state.epoch, state.version)
        if key == self.key and time.monotonic() - self.started < self.MAX_SECONDS:
            return self
        return Pages(key)

    def keep(self, address, page):
        if len(self.by_address) >= self.MAX_PAGES:
            self.by_address = {}
        self.by_address[address] = page


_pages = Pages()


def check(request):
    global _pages
    query = request.GET.get("q")
    if query is not None:
        wait = services.check_wait(client_ip(request))
        if wait:
            return too_many_requests(request, wait)
    if request.user.is_authenticated or len(get_messages(request)):  # pages of their own
        return render(request, "check/check.html", _context(query))
    pages = _pages = _pages.for_state(current_state())
    address = (get_language(), request.get_full_path())
    page = pages.by_address.get(address)
    if page is None:
        page = render(request, "check/check.html", {**_context(query), "csrf_token": TOKEN_PLACEHOLDER}).content
        pages.keep(address, page)
    return HttpResponse(page.replace(TOKEN_PLACEHOLDER.encode(), get_token(request).encode()))


def _context(query):
    return {"query": query or "", "result": None if query is None else services.check_target(query)}
