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
        from sitealert.federation import documents, sources  # models are loaded only now

        maintenance.register("federation.pull", 60)(sources.pull_due_sources)
        # Beside the feed's documents ("feed.warm"), ahead of the subscribers that read them here.
        maintenance.register("federation.warm", 60)(documents.warm)
        metrics.add_collector(sources.Gauges())
