import re

from django import template
from django.utils.html import escape, urlize
from django.utils.safestring import mark_safe

from sitealert.core.countries import country_name as _country_name
from sitealert.core.lists import join_list as _join_list
from sitealert.core.lists import list_separator as _list_separator

register = template.Library()

# Punctuation that ends an address although no space follows it: Chinese and Japanese write
# "电子邮件：office@example.org。" with full-width colons and stops, and CJK text has no spaces at
# all; Arabic has its own comma, semicolon, question mark and full stop. Django's urlize splits on
# spaces only, so it took "电子邮件：office@example.org" for one word and linked nothing.
ADDRESS_BOUNDARY = re.compile(
    "([\u060c\u061b\u061f\u06d4\u2e80-\u2fff\u3000-\u9fff\uf900-\ufaff"
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+)")


@register.filter
def country_name(code):
    """{{ org.country|country_name }}: the country's name in the page's language."""
    return _country_name(code)


@register.simple_tag
def list_separator():
    """{% if not forloop.last %}{% list_separator %}{% endif %}: ", ", "، " or "、" by language."""
    return _list_separator()


@register.filter
def join_list(items):
    """{{ names|join_list }}: the items joined the reader's way (autoescaped like any value)."""
    return _join_list(items)


@register.filter(is_safe=True, needs_autoescape=True)
def urlize_text(text, autoescape=True):
    """Django's urlize, also for addresses that touch CJK text or full-width and Arabic punctuation."""
    parts = ADDRESS_BOUNDARY.split(str(text))
    return mark_safe("".join(escape(part) if i % 2 else urlize(part, autoescape=autoescape)
                             for i, part in enumerate(parts)))
