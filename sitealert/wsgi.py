import os

from django.core.wsgi import get_wsgi_application

from sitealert.core import tallies
from sitealert.core.request_body import BodyReader

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sitealert.settings")
application = BodyReader(get_wsgi_application())
tallies.start()  # what reads count (rate limits, downloads) is written every few seconds
