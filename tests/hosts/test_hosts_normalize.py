"""normalize_target: what people paste, what it becomes, and what is refused with which reason."""

import pickle
import re

import pytest

from sitealert.hosts import MESSAGES, InvalidTarget, normalize_target, target_kind

LONGEST_NAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 57, "com"])  # 253 octets

ACCEPTED = [
    # bare hosts, case, blanks, trailing dot
    ("example.com", "example.com"),
    ("EXAMPLE.COM", "example.com"),
    ("Example.Com", "example.com"),
    ("example.com.", "example.com"),
    ("EXAMPLE.COM.", "example.com"),
    ("  example.com  ", "example.com"),
    ("\texample.com\r\n", "example.com"),
    ("\ufeffexample.com", "example.com"),  # byte-order mark from a CSV export
    ("example.com\u200b", "example.com"),
    ("\u3000example.com\u3000", "example.com"),
    ("www.example.com", "www.example.com"),
    ("a.b.c.example.com", "a.b.c.example.com"),
    # URLs
    ("http://example.com", "example.com"),
    ("https://example.com/", "example.com"),
    ("HTTPS://EXAMPLE.COM/Some/Path", "example.com"),
    ("https://user:pw@Example.COM:8080/path?q#f", "example.com"),
    ("https://example.com:443", "example.com"),
    ("https://user@evil.example@real.example/", "real.example"),
    ("https://evil.example\\@real.example/", "evil.example"),
    ("https://example.com#@other.example", "example.com"),
    ("http://example.com?next=http://other.example", "example.com"),
    ("example.com/@user", "example.com"),
    ("example.com:8080", "example.com"),
    ("example.com:", "example.com"),
    ("example.com:8080/path", "example.com"),
    ("example.com/path/to/page.html", "example.com"),
    ("example.com?query=1", "example.com"),
    ("example.com#fragment", "example.com"),
    ("//example.com/path", "example.com"),
    ("http:example.com", "example.com"),
    ("https:///example.com", "example.com"),
    ("http:\\\\example.com\\path", "example.com"),
    ("ftp://files.example.com/pub", "files.example.com"),
    ("wss://chat.example.com/socket", "chat.example.com"),
    ("ex%61mple.com", "example.com"),
    # wildcards
    ("*.example.com", "example.com"),
    ("*.video.example.com", "video.example.com"),
    (".example.com", "example.com"),
    # public suffix list edges
    ("example.co.uk", "example.co.uk"),
    ("video.example.co.uk", "video.example.co.uk"),
    ("foo.blogspot.com", "foo.blogspot.com"),
    ("city.kobe.jp", "city.kobe.jp"),
    ("b.c.kobe.jp", "b.c.kobe.jp"),
    ("www.ck", "www.ck"),
    ("test.ac.jp", "test.ac.jp"),
    ("site.unlisted-tld", "site.unlisted-tld"),
    ("com.example.app", "com.example.app"),  # a bare package name is a domain
    ("play.google.com", "play.google.com"),
    ("https://play.google.com/", "play.google.com"),
    # Unicode
    ("Bücher.example", "xn--bcher-kva.example"),
    ("BÜCHER.example", "xn--bcher-kva.example"),
    ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
    ("ＥＸＡＭＰＬＥ.com", "example.com"),
    ("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com"),
    ("example。com", "example.com"),
    ("example｡com", "example.com"),
    ("ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ／ｐａｔｈ", "example.com"),
    ("食狮.公司.cn", "xn--85x722f.xn--55qx5d.cn"),
    ("www.食狮.中国", "www.xn--85x722f.xn--fiqs8s"),
    ("xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
    ("faß.de", "xn--fa-hia.de"),  # IDNA 2008, non-transitional: ß is kept
    ("пример.рф", "xn--e1afmkfd.xn--p1ai"),
    ("http://пример.рф/путь?q=1", "xn--e1afmkfd.xn--p1ai"),
    ("http://b%C3%BCcher.example/", "xn--bcher-kva.example"),
    ("exa\u00admple.com", "example.com"),  # soft hyphen is ignored by UTS #46
    # real-world names IDNA's strict rules would refuse
    ("r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"),
    ("my_blog.example.com", "my_blog.example.com"),
    ("_dmarc.example.com", "_dmarc.example.com"),
    ("-x-.example.com", "-x-.example.com"),
    ("ab--cd.example.com", "ab--cd.example.com"),
    ("a_b.films.blogspot.com", "a_b.films.blogspot.com"),
    # the registered name is LDH: digits first, inner hyphens and valid A-labels are fine
    ("1password.com", "1password.com"),
    ("0.example", "0.example"),
    ("x-y-z.co.uk", "x-y-z.co.uk"),
    ("xn--bcher-kva.co.uk", "xn--bcher-kva.co.uk"),
    # lengths at the limit
    ("a" * 63 + ".com", "a" * 63 + ".com"),
    (LONGEST_NAME, LONGEST_NAME),
]

APPS = [
    ("android:com.example.app", "android:com.example.app"),
    ("Android:com.Example.App", "android:com.Example.App"),
    ("ANDROID: com.example.app ", "android:com.example.app"),
    ("android:com.example_1.app2", "android:com.example_1.app2"),
    ("ａｎｄｒｏｉｄ：com.example.app", "android:com.example.app"),
    ("ios:123456789", "ios:123456789"),
    ("iOS:id123456789", "ios:123456789"),
    ("ios:ID0123", "ios:123"),
    ("https://play.google.com/store/apps/details?id=com.foo.bar&hl=en", "android:com.foo.bar"),
    ("play.google.com/store/apps/details?hl=en&id=com.Foo.bar", "android:com.Foo.bar"),
    ("https://play.google.com/store/apps/details/?id=com.foo.bar#reviews", "android:com.foo.bar"),
    ("market://details?id=com.foo.bar", "android:com.foo.bar"),
    ("https://apps.apple.com/us/app/some-name/id123456789", "ios:123456789"),
    ("https://apps.apple.com/app/id123456789?l=fr", "ios:123456789"),
    ("https://itunes.apple.com/us/app/some-name/id123?mt=8", "ios:123"),
    ("itunes.apple.com/WebObjects/MZStore.woa/wa/viewSoftware?id=123", "ios:123"),
    ("https://apps.apple.com/us/app/id123/", "ios:123"),
    ("https://apps.apple.com/app/apple-store/id375380948?pt=1", "ios:375380948"),
    ("http://user:secret@example.com/", "example.com"),
]

REFUSED = [
    ("", "empty"),
    ("   ", "empty"),
    ("\u200b", "empty"),
    ("exa mple.com", "contains_space"),
    ("example.com extra words", "contains_space"),
    ("exam\nple.com", "contains_space"),
    ("abuse@example.com", "email_address"),
    ("mailto:abuse@example.com", "unsupported_scheme"),
    ("user:secret@example.com", "userinfo"),
    ("skype:someone@example.com", "unsupported_scheme"),
    ("xmpp:alice@example.com", "unsupported_scheme"),
    ("example.com:80@films.example", "userinfo"),
    ("javascript:alert(1)", "unsupported_scheme"),
    ("ssh://example.com", "unsupported_scheme"),
    ("file:///etc/passwd", "unsupported_scheme"),
    ("hxxp://example.com", "unsupported_scheme"),
    ("data:text/html,hi", "unsupported_scheme"),
    ("tel:123", "unsupported_scheme"),
    ("foo:bar", "unsupported_scheme"),
    ("http://", "no_host"),
    ("https://:80/", "no_host"),
    ("//", "no_host"),
    ("*.", "no_host"),
    ("example.com:abc", "bad_port"),
    ("example.com:99999", "bad_port"),
    ("192.168.1.1", "ip_address"),
    ("1.2.3.4.", "ip_address"),
    ("127.1", "ip_address"),
    ("0x7f.0.0.1", "ip_address"),
    ("0177.0.0.1", "ip_address"),
    ("2130706433", "ip_address"),
    ("http://192.168.1.1:8080/admin", "ip_address"),
    ("[::1]", "ip_address"),
    ("http://[2001:db8::1]:8080/", "ip_address"),
    ("2001:db8::1", "ip_address"),
    ("::ffff:1.2.3.4", "ip_address"),
    ("example.123", "numeric_tld"),
    ("1.2.3.4.5", "numeric_tld"),
    ("1.2.3.256", "numeric_tld"),
    ("ex*ample.com", "wildcard"),
    ("*example.com", "wildcard"),
    ("www.*.example.com", "wildcard"),
    ("a..b.com", "empty_label"),
    ("..example.com", "empty_label"),
    ("example.com..", "empty_label"),
    ("exa$mple.com", "invalid_character"),
    ("example.c_m", "invalid_character"),
    ("http://[foo]/", "invalid_character"),
    ("http://%5B::1%5D/", "ip_address"),
    ("%5b::1%5d:8080", "ip_address"),
    ("exam\x00ple.com", "invalid_character"),
    ("ex%ZZample.com", "invalid_character"),
    ("ex%FFample.com", "invalid_character"),
    ("xn--abc.com", "invalid_idna"),
    ("💩.la", "invalid_idna"),
    ("bü_cher.example", "invalid_idna"),
    ("a\u200db.example", "invalid_idna"),
    ("a" * 64 + ".com", "label_too_long"),
    ("ü" * 60 + ".com", "idn_label_too_long"),
    (LONGEST_NAME.replace("com", "info"), "name_too_long"),
    (".".join(["ü" * 20] * 10) + ".com", "idn_name_too_long"),
    ("localhost", "single_label"),
    ("intranet", "single_label"),
    ("localhost:3000", "single_label"),
    ("com", "public_suffix"),
    ("co.uk", "public_suffix"),
    ("CO.UK.", "public_suffix"),
    ("*.co.uk", "public_suffix"),
    ("blogspot.com", "public_suffix"),
    ("https://blogspot.com/", "public_suffix"),
    ("uk.com", "public_suffix"),
    ("c.kobe.jp", "public_suffix"),
    ("test.ck", "public_suffix"),
    ("公司.cn", "public_suffix"),
    ("xn--55qx5d.cn", "public_suffix"),
    # the label a registry issued (directly under the public suffix) must be LDH
    ("my_blog.com", "unregistrable_underscore"),
    ("www.my_blog.co.uk", "unregistrable_underscore"),
    ("https://My_Blog.com/watch", "unregistrable_underscore"),
    ("foo_bar.blogspot.com", "unregistrable_underscore"),
    ("_films.example", "unregistrable_underscore"),
    ("-films.com", "unregistrable_hyphen"),
    ("films-.co.uk", "unregistrable_hyphen"),
    ("www.-films.com", "unregistrable_hyphen"),
    ("-.com", "unregistrable_hyphen"),
    ("ab--films.com", "unregistrable_double_hyphen"),
    ("AB--films.example", "unregistrable_double_hyphen"),
    ("android:com", "bad_app_id"),
    ("android:", "bad_app_id"),
    ("android:1com.foo", "bad_app_id"),
    ("android:com..foo", "bad_app_id"),
    ("android:com.foo-bar", "bad_app_id"),
    ("ios:", "bad_app_id"),
    ("ios:abc", "bad_app_id"),
    ("ios:0", "bad_app_id"),
    ("ios:12a", "bad_app_id"),
    ("ios:١٢٣", "bad_app_id"),
    ("https://play.google.com/store/apps/details?id=nodots", "bad_app_id"),
    ("https://play.google.com/store/search?q=films", "store_page_not_app"),
    ("https://play.google.com/store/apps/details", "store_page_not_app"),
    ("https://apps.apple.com/us/charts/iphone", "store_page_not_app"),
    # Apple's other pages carry ids of the same form; they are not apps.
    ("https://itunes.apple.com/us/album/some-album/id1440857781", "store_page_not_app"),
    ("https://itunes.apple.com/us/podcast/foo/id123456", "store_page_not_app"),
    ("https://apps.apple.com/us/developer/some-developer/id281956209", "store_page_not_app"),
    ("https://apps.apple.com/us/story/id1538632801", "store_page_not_app"),
    ("https://apps.apple.com/us/app-bundle/some-bundle/id1234", "store_page_not_app"),
    ("itunes.apple.com/WebObjects/MZStore.woa/wa/viewAlbum?id=123", "store_page_not_app"),
    ("market://search?q=films", "store_page_not_app"),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED + APPS)
def test_normalizes(text, expected):
    assert normalize_target(text) == expected


@pytest.mark.parametrize(("text", "expected"), ACCEPTED + APPS)
def test_canonical_form_is_its_own_normal_form(text, expected):
    assert normalize_target(expected) == expected


@pytest.mark.parametrize(("text", "code"), REFUSED)
def test_refuses_with_reason(text, code):
    with pytest.raises(InvalidTarget) as refused:
        normalize_target(text)
    assert refused.value.code == code
    assert str(refused.value) == MESSAGES[code].format(**refused.value.params)


def test_every_refusal_code_is_exercised_and_has_a_message():
    assert {code for _, code in REFUSED} == set(MESSAGES)


def test_none_is_empty():
    with pytest.raises(InvalidTarget) as refused:
        normalize_target(None)
    assert refused.value.code == "empty"


def test_messages_name_what_is_wrong():
    cases = {
        "192.168.1.1": "'192.168.1.1' is an IP address; list the site's domain name instead.",
        "co.uk": "'co.uk' is a public suffix",
        "a" * 70 + ".com": "The part '" + "a" * 63 + "…' is longer than 63 characters",
        "exa mple.com": "'exa mple.com' contains a space",
        "": "Nothing was entered",
        "mailto:x@example.com": "'mailto:' addresses are not web sites",
        "localhost": "'localhost' is not a complete domain name",
        "www.my_blog.co.uk": "'www.my_blog.co.uk' cannot exist: 'my_blog', the name registered under 'co.uk', "
                             "contains '_'",
        "-films.com": "'-films.com' cannot exist: '-films', the name registered under 'com', starts or ends "
                      "with a hyphen",
    }
    for text, start in cases.items():
        with pytest.raises(InvalidTarget, match="^" + re.escape(start)):
            normalize_target(text)


def test_message_quotes_control_characters_visibly():
    with pytest.raises(InvalidTarget) as refused:
        normalize_target("exam\nple.com")
    assert "\n" not in str(refused.value)
    assert "exam\\nple.com" in str(refused.value)


def test_invalid_target_is_a_value_error_that_survives_pickling():
    with pytest.raises(ValueError) as refused:
        normalize_target("co.uk")
    copy = pickle.loads(pickle.dumps(refused.value))
    assert (copy.code, copy.params, str(copy)) == ("public_suffix", {"host": "co.uk"}, str(refused.value))


def test_non_text_is_a_programming_error():
    with pytest.raises(TypeError):
        normalize_target(b"example.com")


@pytest.mark.parametrize(
    ("target", "kind"),
    [("example.com", "domain"), ("android:com.example.app", "app"), ("ios:123", "app"), ("xn--p1ai.example", "domain")],
)
def test_target_kind(target, kind):
    assert target_kind(target) == kind
