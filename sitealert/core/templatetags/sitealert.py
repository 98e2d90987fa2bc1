from django import template

from sitealert.core.countries import country_name as _country_name

register = template.Library()


@register.filter
def country_name(code):
    """{{ org.country|country_name }}: the country's name in the page's language."""
    return _country_name(code)


@register.simple_tag(takes_context=True)
def operator_waiting_work(context):
    """{% operator_waiting_work as work %}: what waits for operator staff (core.admin.waiting_work)."""
    from sitealert.core.admin import waiting_work

    return waiting_work(context["request"])
