from django import template

from sitealert.core.countries import country_name as _country_name

register = template.Library()


@register.filter
def country_name(code):
    """{{ org.country|country_name }}: the country's name in the page's language."""
    return _country_name(code)
