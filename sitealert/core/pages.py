"""Responses that pages of several apps share."""

from django.shortcuts import render
from django.utils.translation import ngettext


def try_again_in(wait):
    """'Please try again in 5 minutes.' (or hours, from two hours on) for a wait in seconds."""
    minutes = max(1, (wait + 59) // 60)
    if minutes < 120:
        return ngettext("Please try again in %(minutes)d minute.", "Please try again in %(minutes)d minutes.",
                        minutes) % {"minutes": minutes}
    hours = (minutes + 59) // 60
    return ngettext("Please try again in %(hours)d hour.", "Please try again in %(hours)d hours.",
                    hours) % {"hours": hours}


def too_many_requests(request, wait, template="sitealert/too_many.html", context=None):
    """A 429 with Retry-After. The default page is the public check's; a form passes its own template
    and context, so that the page explains its own limit and keeps what the person typed."""
    minutes = max(1, (wait + 59) // 60)
    message = ngettext("You have made too many requests. Please wait %(minutes)d minute and try again.",
                       "You have made too many requests. Please wait %(minutes)d minutes and try again.",
                       minutes) % {"minutes": minutes}
    response = render(request, template, {"message": message, "try_again": try_again_in(wait), **(context or {})},
                      status=429)
    response["Retry-After"] = str(wait)
    return response
