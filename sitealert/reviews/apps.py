from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReviewsConfig(AppConfig):
    name = "sitealert.reviews"
    label = "reviews"
    verbose_name = _("Review requests")

    def ready(self):
        from sitealert.core import maintenance
        from sitealert.reviews import services  # models are loaded only now

        maintenance.register("reviews.remind", 3600)(services.send_due_reminders)
        maintenance.register("reviews.purge", 86400)(services.purge_unconfirmed_requests)
