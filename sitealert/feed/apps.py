from django.apps import AppConfig


class FeedConfig(AppConfig):
    name = "sitealert.feed"
    label = "feed"

    def ready(self):
        from sitealert.core import maintenance
        from sitealert.feed import builder  # models are loaded only now

        # Rebuilt ahead of clients at most every minute.
        maintenance.register("feed.warm", 60)(lambda now: builder.warm())
