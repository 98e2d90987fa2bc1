from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "sitealert.core"
    label = "core"
