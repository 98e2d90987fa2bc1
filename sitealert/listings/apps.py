from django.apps import AppConfig


class ListingsConfig(AppConfig):
    name = "sitealert.listings"
    label = "listings"
