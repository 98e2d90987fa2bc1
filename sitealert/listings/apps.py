from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ListingsConfig(AppConfig):
    name = "sitealert.listings"
    label = "listings"
    verbose_name = _("Listings")

    def ready(self):
        from sitealert.core import maintenance
        from sitealert.listings import changelog  # models are loaded only now

        maintenance.register("feed.prune", 86400)(changelog.prune_expired_history)
