"""Russian: Django's dates end in "г." ("3 декабря 2026 г."), so every sentence that ends with
a date ended with two full stops. Without the abbreviation, the date reads the same."""

from django.conf.locale.ru.formats import *  # noqa: F401,F403 - the rest of Django's Russian formats

DATE_FORMAT = "j E Y"
DATETIME_FORMAT = "j E Y, G:i"
