"""Lists in running text, written the reader's way: Arabic separates items with its own comma
("أ، ب"), Chinese with the enumeration comma and no space ("甲、乙"), the other languages with ", "."""

from django.utils.translation import get_language

SEPARATORS = {"ar": "\u060c ", "zh-hans": "\u3001"}
DEFAULT_SEPARATOR = ", "


def list_separator(language=None):
    return SEPARATORS.get((language or get_language() or "en").lower(), DEFAULT_SEPARATOR)


def join_list(items, language=None):
    """'a, b, c' in English, 'a، b، c' in Arabic, 'a、b、c' in Chinese."""
    return list_separator(language).join(str(item) for item in items)
