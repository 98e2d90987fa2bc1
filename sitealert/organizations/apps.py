from django.apps import AppConfig


class OrganizationsConfig(AppConfig):
    name = "sitealert.organizations"
    label = "organizations"
