from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "sitealert.monitoring"
    label = "monitoring"
