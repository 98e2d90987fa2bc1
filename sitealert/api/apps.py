from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "sitealert.api"
    label = "api"
