from django.apps import AppConfig


class DistributionConfig(AppConfig):
    """The signed distribution: signing keys and the static tree (docs/distribution.md). No models, no pages."""

    name = "sitealert.distribution"
    label = "distribution"

    def ready(self):
        from sitealert.core import maintenance
        from sitealert.distribution import publish  # reads the feed, whose models load only now

        # Every time the worker runs its tasks (each 30 s): a new version is published, an unchanged
        # one costs a look at the tree, and the timestamp is re-signed before it expires.
        maintenance.register("distribution.publish", 10)(publish.publish_mirror)
