from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatisticsConfig(AppConfig):
    name = "sitealert.statistics"
    label = "statistics"
    verbose_name = _("Statistics")

    def ready(self):
        from sitealert.core import maintenance
        from sitealert.statistics import services  # models are loaded only now

        maintenance.register("statistics.history", 60)(services.refresh_listing_history)
