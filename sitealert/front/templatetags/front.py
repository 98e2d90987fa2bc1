from django import template

from sitealert.front.admin import waiting_work

register = template.Library()


@register.simple_tag(takes_context=True)
def operator_waiting_work(context):
    """{% operator_waiting_work as work %}: what waits for operator staff (front.admin.waiting_work)."""
    return waiting_work(context["request"])
