from django.apps import AppConfig


class FederationConfig(AppConfig):
    """Federation (docs/federation.md): this installation's documents for subscribers, and its
    sources: other installations and plain lists whose listings it carries."""

    name = "sitealert.federation"
    label = "federation"
