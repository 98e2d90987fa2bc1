from django.apps import AppConfig


class PublicConfig(AppConfig):
    name = "sitealert.public"
    label = "public"
