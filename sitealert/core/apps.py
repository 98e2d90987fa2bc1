from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "sitealert.core"
    label = "core"
    verbose_name = _("Audit log")

    def ready(self):
        from sitealert.core import maintenance, ratelimit  # models are loaded only now

        maintenance.register("ratelimit.purge", 3600)(lambda now: ratelimit.purge_expired(now.timestamp()))
