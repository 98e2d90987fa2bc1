"""Responses that pages of several apps share."""

from django.shortcuts import render
from django.utils.translation import ngettext


def too_many_requests(request, wait):
    minutes = max(1, (wait + 59) // 60)
    message = ngettext("You have made too many requests. Please wait %(minutes)d minute and try again.",
                       "You have made too many requests. Please wait %(minutes)d minutes and try again.",
                       minutes) % {"minutes": minutes}
    response = render(request, "sitealert/too_many.html", {"message": message}, status=429)
    response["Retry-After"] = str(wait)
    return response
