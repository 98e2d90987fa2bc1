from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "sitealert.core"
    label = "core"
    verbose_name = _("Audit log")

    def ready(self):
        from sitealert.core import after_response, maintenance, ratelimit  # models are loaded only now

        after_response.connect()

        maintenance.register("ratelimit.purge", 3600)(lambda now: ratelimit.purge_expired(now.timestamp()))
