from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FederationConfig(AppConfig):
    """Federation (docs/federation.md): this installation's documents for subscribers, and its
    sources: other installations and plain lists whose listings it carries."""

    name = "sitealert.federation"
    label = "federation"
    verbose_name = _("Federation")

    def ready(self):
        from sitealert.core import maintenance, metrics
        from sitealert.federation import sources  # models are loaded only now

        maintenance.register("federation.pull", 60)(sources.pull_due_sources)
        metrics.add_collector(sources.Gauges())
