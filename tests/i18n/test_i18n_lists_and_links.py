"""Running text the reader's way: lists separated with the reader's comma, and addresses linked even
where Chinese or Arabic punctuation touches them."""

import pytest
from django.template import Context, Template
from django.utils import translation

from sitealert.core.lists import join_list, list_separator
from sitealert.core.templatetags.sitealert import urlize_text
from sitealert.procedures.models import OperatingProcedure


@pytest.mark.parametrize(("language", "joined"), [
    ("ar", "أ، ب، ج"), ("zh-hans", "甲、乙、丙"), ("en", "a, b, c"), ("fr", "a, b, c"), ("ru", "a, b, c"),
    ("es", "a, b, c")])
def test_lists_use_the_readers_separator(language, joined):
    items = {"ar": ["أ", "ب", "ج"], "zh-hans": ["甲", "乙", "丙"]}.get(language, ["a", "b", "c"])
    assert join_list(items, language) == joined
    with translation.override(language):
        assert join_list(items) == joined
        rendered = Template("{% load sitealert %}{% for i in items %}{{ i }}{% if not forloop.last %}"
                            "{% list_separator %}{% endif %}{% endfor %}|{{ items|join_list }}").render(
            Context({"items": items}))
    assert rendered == f"{joined}|{joined}"


def test_no_latin_comma_between_items_in_arabic_or_chinese(client, alice):
    client.force_login(alice)
    for language, separator in (("ar", "\u060c "), ("zh-hans", "\u3001")):
        page = client.get("/listings/upload/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        categories = page.split("<code>streaming-video</code>", 1)[1].split("</p>", 1)[0]
        assert separator in categories and "), <code>" not in categories, (language, categories[:200])
    assert list_separator("en") == ", "


@pytest.mark.django_db
def test_a_category_refusal_lists_the_choices_the_readers_way(italy):
    from sitealert.core.actors import Actor
    from sitealert.listings.services import EntryInput, submit_entries

    with translation.override("zh-hans"):
        report = submit_entries(italy, [EntryInput(target="pirate.test", category="films", reference="R1")],
                                actor=Actor(organization=italy, via="api"))
    (row,) = report.as_dict()["rows"]
    assert "streaming-video\u3001streaming-music" in row["reason"], row


@pytest.mark.parametrize(("text", "link"), [
    ("电子邮件：listings@it-office.example", '电子邮件：<a href="mailto:listings@it-office.example">'),
    ("邮箱：a@b.example。网站：https://b.example/zh。", '网站：<a href="https://b.example/zh">https://b.example/zh</a>。'),
    ("请发送至listings@it-office.example", '请发送至<a href="mailto:listings@it-office.example">'),
    ("البريد: listings@it-office.example، شكرا",
     '<a href="mailto:listings@it-office.example">listings@it-office.example</a>،'),
    ("Courriel : desk@agcom.test.", 'Courriel : <a href="mailto:desk@agcom.test">desk@agcom.test</a>.'),
])
def test_addresses_are_linked_whatever_punctuation_touches_them(text, link):
    assert link in urlize_text(text)


def test_linking_escapes_everything_else():
    assert urlize_text("<b>联系：</b>a@b.example") == (
        '&lt;b&gt;联系：&lt;/b&gt;<a href="mailto:a@b.example">a@b.example</a>')


@pytest.mark.django_db
def test_the_chinese_contact_address_is_a_link(client, italy):
    OperatingProcedure.objects.create(organization=italy, language="zh-hans", description="我们是国家主管机关。",
                                      contact="名单事务处\n电子邮件：listings@it-office.example",
                                      criteria="商业规模。", procedure="书面裁定。")
    html = client.get(f"/procedures/{italy.slug}/?lang=zh-hans").content.decode()
    assert '电子邮件：<a href="mailto:listings@it-office.example">listings@it-office.example</a>' in html
