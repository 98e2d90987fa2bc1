from django.apps import AppConfig


class FeedConfig(AppConfig):
    name = "sitealert.feed"
    label = "feed"
