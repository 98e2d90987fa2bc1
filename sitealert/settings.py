"""Django settings for SiteAlert, read from SITEALERT_* environment variables once, at start-up.

SiteAlert's own settings are in SITEALERT, read by the code through sitealert.core.conf.setting.
"""

import ipaddress
import os
import re
import secrets
from pathlib import Path
from urllib.parse import unquote, urlparse

from sitealert.core.conf import ConfigurationError
from sitealert.distribution.s3 import S3Error, S3Location

BASE_DIR = Path(__file__).resolve().parent


def envstr(name, default=""):
    return os.environ.get("SITEALERT_" + name, default)


def envbool(name, default=False):
    value = os.environ.get("SITEALERT_" + name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _envnumber(name, default, kind, minimum):
    value = envstr(name).strip()
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        raise ConfigurationError(f"SITEALERT_{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise ConfigurationError(f"SITEALERT_{name} must be at least {minimum}")
    return number


def envint(name, default, minimum=None):
    return _envnumber(name, default, int, minimum)


def envfloat(name, default, minimum=0):
    return _envnumber(name, default, float, minimum)


def envlist(name, default=""):
    """A comma-separated list, blanks left out."""
    return [item.strip() for item in envstr(name, default).split(",") if item.strip()]


def envchoices(name, choices, default):
    """A comma-separated selection from `choices`, in the order given; none: `default`."""
    chosen = tuple(item.lower() for item in envlist(name)) or default
    if any(item not in choices for item in chosen):
        raise ConfigurationError(f"SITEALERT_{name} may name only {' and '.join(choices)}")
    return chosen


def envaddresses(name):
    """"9.9.9.9,127.0.0.1:5353,[2620:fe::fe]:53" -> [("9.9.9.9", None), ("127.0.0.1", 5353), ("2620:fe::fe", 53)]."""
    result = []
    for entry in envlist(name):
        host, port = entry, None
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            if rest.startswith(":"):
                port = rest[1:]
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        try:
            result.append((str(ipaddress.ip_address(host)), None if port is None else int(port)))
        except ValueError:
            raise ConfigurationError(f"SITEALERT_{name}: {entry!r} is not an address or address:port") from None
    return result


def envnetworks(name, default=""):
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in envlist(name, default))
    except ValueError as exc:
        raise ConfigurationError(f"SITEALERT_{name}: {exc}") from None


def envurlpath(name):
    """A URL path prefix such as "/internal/feed-cache/" (always ending with "/"), or "" when unset."""
    value = envstr(name).strip()
    if not value:
        return ""
    if not re.fullmatch(r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/?", value):
        raise ConfigurationError(f"SITEALERT_{name}={value!r} must be a URL path such as /internal/feed-cache/ "
                                 "(letters, digits, '-', '_', '.', '~' between slashes)")
    return value.rstrip("/") + "/"


def envbucketurl(name):
    """"s3://bucket/prefix" (checked), or "" when unset."""
    value = envstr(name).strip()
    if value:
        try:
            S3Location.parse(value)
        except S3Error as exc:
            raise ConfigurationError(f"SITEALERT_{name}: {exc}") from None
    return value


def envhttpurl(name):
    """An http:// or https:// base URL, or "" when unset."""
    value = envstr(name).strip()
    parts = urlparse(value)
    if value and (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment):
        raise ConfigurationError(f"SITEALERT_{name}={value!r} must be an http:// or https:// URL such as "
                                 "https://s3.eu-central-1.amazonaws.com")
    return value


DATA_DIR = Path(envstr("DATA_DIR", str(Path.cwd() / "var"))).resolve()


def _secret_key():
    configured = envstr("SECRET_KEY")
    if configured:
        return configured
    # The embedded mode keeps a generated key beside its database so sessions survive restarts.
    key_file = DATA_DIR / "secret_key"
    try:
        return key_file.read_text().strip()
    except FileNotFoundError:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = envstr("SITE_NAME", "SiteAlert")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    # Second factors: authenticator apps, recovery codes, passkeys (sitealert.organizations.second_factor).
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    # In the layer order of docs/architecture.md: each app imports only from apps above it here.
    "sitealert.core",
    "sitealert.organizations",
    "sitealert.feed",
    "sitealert.listings",
    "sitealert.monitoring",
    "sitealert.reviews",
    "sitealert.procedures",
    "sitealert.check",
    "sitealert.statistics",
    "sitealert.operations",
    "sitealert.federation",
    "sitealert.distribution",
    "sitealert.api",
    "sitealert.front",
]

MIDDLEWARE = [
    "sitealert.operations.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "sitealert.core.middleware.SecurityHeadersMiddleware",
    "sitealert.core.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "sitealert.core.request_body.RequestBodyErrorMiddleware",
    "sitealert.core.middleware.GZipMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "sitealert.core.middleware.AuthenticationMiddleware",
    "sitealert.core.middleware.OTPMiddleware",
    "sitealert.front.second_factor.SecondFactorMiddleware",
    "sitealert.core.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sitealert.urls"
WSGI_APPLICATION = "sitealert.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The core app's templates come first, ahead of the apps', so that its admin/base_site.html
        # overrides the admin's. Listing sitealert.core before django.contrib.admin would do the
        # same, but would also let its catalog shadow the admin's own translations ("Home").
        "DIRS": [BASE_DIR / "core" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "sitealert.core.context_processors.sitealert",
            ],
        },
    },
]


def database_from_url(url):
    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        raise ConfigurationError("SITEALERT_DATABASE_URL must be a postgresql:// URL")
    options = dict(p.split("=", 1) for p in parsed.query.split("&") if "=" in p)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parsed.path.lstrip("/")),
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": unquote(parsed.hostname or ""),
        "PORT": str(parsed.port or ""),
        "OPTIONS": options,
        "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60, minimum=0),
        "CONN_HEALTH_CHECKS": True,
    }


if envstr("DATABASE_URL"):
    DATABASES = {"default": database_from_url(envstr("DATABASE_URL"))}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "sitealert.sqlite3"),
            # IMMEDIATE makes every write transaction take the write lock up front, so two
            # writers queue instead of failing half-way with "database is locked".
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30,
                        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"},
            # Opening a connection (and running init_command) cost as much as a small request.
            "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "sitealert_cache",
    }
}

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# Passkeys belong to the site's public address: SITE_URL's host is the relying party and its origin
# the only one accepted (sitealert.front.second_factor.PasskeyHelper reads them at each request).
OTP_WEBAUTHN_HELPER_CLASS = "sitealert.front.second_factor.PasskeyHelper"
OTP_WEBAUTHN_RP_ID = urlparse(SITE_URL).hostname or "localhost"
OTP_WEBAUTHN_RP_NAME = SITE_NAME
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False  # a passkey is a second factor, after the throttled password
OTP_TOTP_ISSUER = SITE_NAME
SILENCED_SYSTEM_CHECKS = ["otp_webauthn.E030"]  # the allowed origin comes from SITE_URL, see above
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
LANGUAGES = [
    ("ar", "العربية"),
    ("zh-hans", "简体中文"),
    ("en", "English"),
    ("fr", "Français"),
    ("ru", "Русский"),
    ("es", "Español"),
]
LANGUAGES_BIDI = ["ar"]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "sitealert_language"
USE_I18N = True
FORMAT_MODULE_PATH = ["sitealert.formats"]
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(DATA_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from it once collectstatic has run
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = envstr("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "SiteAlert <noreply@sitealert.invalid>")

DATA_UPLOAD_MAX_MEMORY_SIZE = envint("MAX_REQUEST_BYTES", 64 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

# SiteAlert's own settings: SITEALERT["NAME"] comes from SITEALERT_NAME, each documented in
# docs/configuration.md. Read them with sitealert.core.conf.setting("NAME").
SITEALERT = {
    "REQUEST_BODY_TIMEOUT": envint("REQUEST_BODY_TIMEOUT", 30, minimum=1),
    "IMPORT_MAX_BYTES": envint("IMPORT_MAX_BYTES", 50 * 1024 * 1024),
    "IMPORT_MAX_ROWS": envint("IMPORT_MAX_ROWS", 2_000_000),
    # A plain-list source's document (docs/federation.md) is read within this many seconds, and
    # within IMPORT_MAX_BYTES and IMPORT_MAX_ROWS like an upload.
    "FEDERATION_LIST_TIMEOUT": envfloat("FEDERATION_LIST_TIMEOUT", 120.0, minimum=1),
    "LOOKUP_MAX_ITEMS": envint("LOOKUP_MAX_ITEMS", 10_000),
    "API_MAX_ENTRIES": envint("API_MAX_ENTRIES", 100_000, minimum=1),
    "API_MAX_JSON_BYTES": envint("API_MAX_JSON_BYTES", 16 * 1024 * 1024, minimum=1024),
    "TOMBSTONE_RETENTION_DAYS": envint("TOMBSTONE_RETENTION_DAYS", 90),
    "PUBLIC_CHECK_RATE": envint("PUBLIC_CHECK_RATE", 30),
    "PUBLIC_CHECK_WINDOW": envint("PUBLIC_CHECK_WINDOW", 60),
    "PRIVATE_LOOKUP_RATE": envint("PRIVATE_LOOKUP_RATE", 300),
    "PRIVATE_LOOKUP_WINDOW": envint("PRIVATE_LOOKUP_WINDOW", 60),
    "LOGIN_RATE": envint("LOGIN_RATE", 10),
    "LOGIN_WINDOW": envint("LOGIN_WINDOW", 300),
    # Who must sign in with a second factor: "staff" and organization kinds; "none" for nobody.
    "SECOND_FACTOR_REQUIRED": envchoices("SECOND_FACTOR_REQUIRED", ("staff", "operator", "contributor", "user", "none"),
                                         default=("staff", "contributor")),
    "API_RATE": envint("API_RATE", 600),
    "API_WINDOW": envint("API_WINDOW", 60),
    # Reads never write (sitealert.core.tallies): what they count is written every this many seconds.
    "TALLY_FLUSH_SECONDS": envfloat("TALLY_FLUSH_SECONDS", 2.0, minimum=0.1),
    # A bearer token is read from the database once per this many seconds per process (0: every call).
    "TOKEN_CACHE_SECONDS": envfloat("TOKEN_CACHE_SECONDS", 5.0, minimum=0),
    "TOKEN_DEFAULT_DAYS": envint("TOKEN_DEFAULT_DAYS", 365),
    # The list's version is read once per this many seconds per process at most (feed.state; 0: every call).
    "STATE_CACHE_SECONDS": envfloat("STATE_CACHE_SECONDS", 1.0, minimum=0),
    "FEED_CACHE_DIR": Path(envstr("FEED_CACHE_DIR", str(DATA_DIR / "feed-cache"))),
    # The internal location of the reverse proxy that serves FEED_CACHE_DIR (docs/production.md):
    # set, a feed download is answered with X-Accel-Redirect and the proxy sends the file.
    "ACCEL_REDIRECT": envurlpath("ACCEL_REDIRECT"),
    # The signed distribution (docs/distribution.md): signing keys, and the tree the worker publishes.
    "KEYS_DIR": Path(envstr("KEYS_DIR", str(DATA_DIR / "keys"))),
    "MIRROR_DIR": Path(envstr("MIRROR_DIR")) if envstr("MIRROR_DIR").strip() else None,
    "MIRROR_TIMESTAMP_EXPIRY": envint("MIRROR_TIMESTAMP_EXPIRY", 86400, minimum=60),
    "MIRROR_KEEP_VERSIONS": envint("MIRROR_KEEP_VERSIONS", 3, minimum=1),
    "MIRROR_DELTAS": envint("MIRROR_DELTAS", 100, minimum=0),
    # The internal location of the reverse proxy that serves MIRROR_DIR (like ACCEL_REDIRECT).
    "MIRROR_ACCEL_REDIRECT": envurlpath("MIRROR_ACCEL_REDIRECT"),
    # /api/v1/mirror/metadata and /api/v1/mirror/targets/hashes/ (no token): requests per client address.
    "MIRROR_PUBLIC_RATE": envint("MIRROR_PUBLIC_RATE", 600, minimum=1),
    "MIRROR_PUBLIC_WINDOW": envint("MIRROR_PUBLIC_WINDOW", 60, minimum=1),
    # Object storage the signed tree is uploaded to after each publish (docs/distribution.md); boto3
    # reads the credentials from its standard environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, a role...).
    "MIRROR_S3_URL": envbucketurl("MIRROR_S3_URL"),
    "S3_ENDPOINT_URL": envhttpurl("S3_ENDPOINT_URL"),  # empty: AWS
    "S3_REGION": envstr("S3_REGION").strip(),  # empty: boto3's (AWS_DEFAULT_REGION, its config file)
    # Federation sources (docs/federation.md): the trusted metadata of each mirror source, and how long
    # without a successful pull makes a source stale (at least; 3 x its interval when that is longer).
    "FEDERATION_DIR": Path(envstr("FEDERATION_DIR", str(DATA_DIR / "federation"))),
    "FEDERATION_STALE_AFTER": envint("FEDERATION_STALE_AFTER", 6 * 3600, minimum=60),
    "TRUSTED_PROXY_COUNT": envint("TRUSTED_PROXY_COUNT", 0),
    # Review requests and public pages.
    "REVIEW_REQUEST_IP_RATE": envint("REVIEW_REQUEST_IP_RATE", 10),
    "REVIEW_REQUEST_EMAIL_RATE": envint("REVIEW_REQUEST_EMAIL_RATE", 3),
    "REVIEW_REQUEST_WINDOW": envint("REVIEW_REQUEST_WINDOW", 86400),
    "REVIEW_INVALID_POST_RATE": envint("REVIEW_INVALID_POST_RATE", 60),
    "REVIEW_INVALID_POST_WINDOW": envint("REVIEW_INVALID_POST_WINDOW", 3600),
    "REVIEW_CONFIRM_HOURS": envint("REVIEW_CONFIRM_HOURS", 48),
    "REVIEW_DUE_DAYS": envint("REVIEW_DUE_DAYS", 30),
    "REVIEW_REMINDER_DAYS": envint("REVIEW_REMINDER_DAYS", 7),
    "STATISTICS_CACHE_SECONDS": envint("STATISTICS_CACHE_SECONDS", 600),
    # `sitealert demo` turns it on: staff read the mail the file backend wrote at /outbox/.
    "DEMO_OUTBOX": envbool("DEMO_OUTBOX", False),
    # `sitealert serve` (--bind, --workers and --threads override the first three; 0 workers: 2 x cores + 1).
    # A thread serves one request at a time, a download for as long as its client reads; the timeout
    # restarts a silent process and disconnects a client that takes nothing for that long.
    "BIND": envstr("BIND", "127.0.0.1:8000"),
    "WORKERS": envint("WORKERS", 0),
    "THREADS": envint("THREADS", 8, minimum=1),
    "WORKER_TIMEOUT": envint("WORKER_TIMEOUT", 120, minimum=1),
    "ACCESS_LOG": envstr("ACCESS_LOG", "-"),
    "FORWARDED_ALLOW_IPS": envstr("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    # /metrics (docs/operations.md): open to these client networks, or to this bearer token.
    "METRICS_ALLOW": envnetworks("METRICS_ALLOW", "127.0.0.1/32,::1/128"),
    "METRICS_TOKEN": envstr("METRICS_TOKEN"),
    # Monitoring (docs/monitoring.md): sitealert.monitoring.conf.load() makes a worker's MonitorConfig of them.
    "MONITOR_RESOLVERS": envaddresses("MONITOR_RESOLVERS"),  # none: the system's resolvers
    "MONITOR_DNS_PORT": envint("MONITOR_DNS_PORT", 53, minimum=1),  # of a resolver given without one
    "MONITOR_DNS_TIMEOUT": envfloat("MONITOR_DNS_TIMEOUT", 3.0, minimum=0.1),
    "MONITOR_CONNECT_TIMEOUT": envfloat("MONITOR_CONNECT_TIMEOUT", 5.0, minimum=0.1),
    "MONITOR_TOTAL_TIMEOUT": envfloat("MONITOR_TOTAL_TIMEOUT", 20.0, minimum=0.1),
    "MONITOR_MAX_HOPS": envint("MONITOR_MAX_HOPS", 10, minimum=1),
    "MONITOR_MAX_BYTES": envint("MONITOR_MAX_BYTES", 256 * 1024, minimum=1),
    "MONITOR_USER_AGENT": envstr("MONITOR_USER_AGENT").strip() or "SiteAlert-Monitor/1.0",
    "MONITOR_SCHEMES": envchoices("MONITOR_SCHEMES", ("http", "https"), default=("https", "http")),
    "MONITOR_HTTP_PORT": envint("MONITOR_HTTP_PORT", 80, minimum=1),
    "MONITOR_HTTPS_PORT": envint("MONITOR_HTTPS_PORT", 443, minimum=1),
    "MONITOR_POLITENESS_DELAY": envfloat("MONITOR_POLITENESS_DELAY", 1.0),
    "MONITOR_INTERVAL": envfloat("MONITOR_INTERVAL", 6 * 3600.0, minimum=1),
    "MONITOR_RETRY": envfloat("MONITOR_RETRY", 15 * 60.0, minimum=1),
    "MONITOR_BACKOFF_MAX": envfloat("MONITOR_BACKOFF_MAX", 24 * 3600.0, minimum=1),
    "MONITOR_JITTER": envfloat("MONITOR_JITTER", 0.1),
    "MONITOR_CONCURRENCY": envint("MONITOR_CONCURRENCY", 32, minimum=1),
    "MONITOR_CLAIM_SECONDS": envfloat("MONITOR_CLAIM_SECONDS", 300.0, minimum=1),
    "MONITOR_IDLE_SECONDS": envfloat("MONITOR_IDLE_SECONDS", 10.0, minimum=0.1),
    "MONITOR_STALE_DAYS": envint("MONITOR_STALE_DAYS", 90, minimum=1),
    "MONITOR_ALLOW_NETWORKS": envnetworks("MONITOR_ALLOW_NETWORKS"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors": {"()": "sitealert.core.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["client_errors"]}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
}
