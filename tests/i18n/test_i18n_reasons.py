import re

from django.utils import translation

from sitealert.core.target_messages import REASONS, translated_reason
from sitealert.hosts import MESSAGES, InvalidTarget, normalize_target


def test_every_normalizer_code_has_a_translatable_reason_with_the_same_text():
    assert set(REASONS) == set(MESSAGES)
    with translation.override("en"):
        for code, message in MESSAGES.items():
            assert str(REASONS[code]) == re.sub(r"\{(\w+)\}", r"%(\1)s", message), code


def test_reasons_are_translated_with_their_parameters():
    try:
        normalize_target("10.1.2.3")
    except InvalidTarget as exc:
        error = exc
    for language in ["ar", "zh-hans", "fr", "ru", "es"]:
        with translation.override(language):
            text = translated_reason(error)
        assert "10.1.2.3" in text and text != str(error), language
