from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CheckConfig(AppConfig):
    name = "sitealert.check"
    label = "check"
    verbose_name = _("Public check")
