"""App targets: "android:<package name>" and "ios:<digits>", and the store pages that name them."""

import re
from urllib.parse import unquote_plus

from .errors import InvalidTarget

# Java package rules as Google Play applies them to application ids. Case is kept: ids are
# case-sensitive on Play.
_ANDROID_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")
_IOS_ID = re.compile(r"(?:id)?([0-9]{1,20})", re.IGNORECASE)
# An app's page: /app/id123, /us/app/some-name/id123. Albums, podcasts, books, developers and
# stories have ids of the same form on the same hosts, and are not apps.
_APPLE_APP_PATH = re.compile(r"(?:^|/)app/(?:[^/]*/)?id([0-9]{1,20})/?$", re.IGNORECASE)
_APPLE_SOFTWARE_QUERY_PATH = "/wa/viewsoftware"  # itunes.apple.com/WebObjects/MZStore.woa/wa/viewSoftware?id=123

PLATFORMS = ("android", "ios")
GOOGLE_PLAY = "play.google.com"
APPLE_STORES = ("apps.apple.com", "itunes.apple.com")


# Android limits a package name to 255 characters (and an App Store id is a few digits): a longer
# value is refused by its length, before the patterns.
MAX_APP_ID_CHARACTERS = 255


def normalize_app(platform: str, value: str, text: str) -> str:
    """Canonical "android:…" or "ios:…" target; platform is lower case, value what followed the colon."""
    value = value.strip()
    if len(value) > MAX_APP_ID_CHARACTERS:
        raise InvalidTarget("bad_app_id", text=text)
    if platform == "android":
        if _ANDROID_PACKAGE.fullmatch(value):
            return "android:" + value
    else:
        match = _IOS_ID.fullmatch(value)
        if match and int(match[1]):
            return f"ios:{int(match[1])}"
    raise InvalidTarget("bad_app_id", text=text)


def _query_param(query: str, name: str) -> str | None:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return unquote_plus(value)
    return None


def app_from_store_url(host: str, path: str, query: str, text: str) -> str | None:
    """The app a store page is about; None if host is not a store or the address is its front page.

    A store page that is not one app's page is refused: listing the store's domain instead
    would be a far bigger listing than the person meant.
    """
    if host != GOOGLE_PLAY and host not in APPLE_STORES:
        return None
    if path in ("", "/") and not query:
        return None
    if host == GOOGLE_PLAY:
        app_id = _query_param(query, "id")
        if path.rstrip("/").lower() == "/store/apps/details" and app_id is not None:
            return normalize_app("android", app_id, text)
    else:
        match = _APPLE_APP_PATH.search(path)
        if match:
            app_id = match[1]
        elif path.rstrip("/").lower().endswith(_APPLE_SOFTWARE_QUERY_PATH):
            app_id = _query_param(query, "id")
        else:
            app_id = None
        if app_id is not None:
            return normalize_app("ios", app_id, text)
    raise InvalidTarget("store_page_not_app", text=text)


def app_from_market_url(rest: str, text: str) -> str:
    """market://details?id=com.example.app, the Play Store's own link form."""
    _, _, query = rest.partition("?")
    app_id = _query_param(query.partition("#")[0], "id")
    if app_id is None:
        raise InvalidTarget("store_page_not_app", text=text)
    return normalize_app("android", app_id, text)
