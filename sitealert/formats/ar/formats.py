"""Arabic: Django gives Arabic a date pattern ("3 ديسمبر، 2026") but no date-time pattern, so
date-times fell back to the English one ("ديسمبر 3, 2026, 9:30 ص"). A date-time here is the date,
an Arabic comma and the time on the 24-hour clock that SiteAlert's other languages use."""

from django.conf.locale.ar.formats import *  # noqa: F401,F403 - the rest of Django's Arabic formats

TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F، Y، H:i"
SHORT_DATETIME_FORMAT = "d\u200f/m\u200f/Y H:i"
