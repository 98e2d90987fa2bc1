"""English: Django's times read "9:30 a.m.", so a sentence that ends with one ended with two
full stops; SiteAlert shows UTC times on a 24-hour clock, as its other languages do."""

from django.conf.locale.en.formats import *  # noqa: F401,F403 - the rest of Django's English formats

TIME_FORMAT = "H:i"
DATETIME_FORMAT = "N j, Y, H:i"
SHORT_DATETIME_FORMAT = "m/d/Y H:i"
