from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Metrics, health checks, backup and restore. No models, no pages: nothing here is shown to people."""

    name = "sitealert.operations"
    label = "operations"
