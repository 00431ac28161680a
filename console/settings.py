"""Settings for the Tellus platform.

Everything that differs between a laptop, CI and production comes from the
environment. With neither DATABASE_URL nor REDIS_URL set the project runs on
the embedded default: SQLite under var/, in-memory channel layer, local-memory
cache and a filesystem Celery broker, so `make run` needs no server.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from console.env import (
    SQLITE_OPTIONS,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_rate,
    env_retry_schedule,
    load_or_create_secret_key,
    parse_database_url,
    private_sqlite_file,
    redis_backed_services,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TELLUS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("SECRET_KEY") or load_or_create_secret_key(VAR_DIR / "secret_key")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# --- Transport security ---------------------------------------------------------------------
# Secure unless DEBUG is on or TELLUS_PLAIN_HTTP says this server is reached over plain
# http on purpose (`make run`, the tests): HTTPS redirect, HSTS, Secure cookies. Each
# one can still be set on its own (docs/operations.md: Running in production).
_HTTPS = not (DEBUG or env_bool("TELLUS_PLAIN_HTTP", False))
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", _HTTPS)
# Load balancers probe over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if _HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", _HTTPS)
SESSION_COOKIE_HTTPONLY = True
# Console sessions end after this long without a request (each request renews it).
SESSION_COOKIE_AGE = env_int("TELLUS_CONSOLE_IDLE_MINUTES", 60, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# TLS ends at the proxy: believe its X-Forwarded-Proto only when told to.
if env_bool("TELLUS_PROXY_SETS_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Asking browsers to preload HSTS commits every subdomain for good: an operator opts in
# (SECURE_HSTS_PRELOAD=true); until then Django's reminder about it is silenced.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "channels",
    "ninja",
    "fleet",
    "api",
    "diagnostics",
    "console.web",
]

MIDDLEWARE = [
    "console.csp.ContentSecurityPolicyMiddleware",
    "api.middleware.V1EnvelopeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.web.sessions.SessionGenerationMiddleware",
    "console.web.times.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.csp.nonce",
                "console.web.context.console_access",
            ],
            # The console's one way to show a time ({{ moment|at }}, console/web/times.py) and words
            # for people ({{ label|who }}, {{ key|step_title:runbook }}, {{ key|words }}).
            "builtins": [
                "console.web.templatetags.console_time",
                "console.web.templatetags.console_words",
            ],
        },
    },
]

# --- Real services, or the embedded default -------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {
    "default": parse_database_url(DATABASE_URL)
    if DATABASE_URL
    else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": private_sqlite_file(VAR_DIR / "tellus.sqlite3"),
        "OPTIONS": SQLITE_OPTIONS,
    }
}

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES, CHANNEL_LAYERS = redis_backed_services(REDIS_URL, prefix="tellus")
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # The filesystem transport lets the web process and the worker exchange tasks
    # through var/ without any broker server.
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    # Kombu's, with a message written whole before a reader can see it.
    CELERY_BROKER_TRANSPORT = "console.filesystem_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }

CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Django defaults that matter here ------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
TELLUS_SERVE_STATIC = env_bool("TELLUS_SERVE_STATIC", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A 403 is one line (who, what, why), never a traceback (console/log_refusals.py).
    "filters": {"one_line_refusals": {"()": "console.log_refusals.OneLineRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["one_line_refusals"]},
    },
}

# --- Tellus tunables (every one documented in docs/configuration.md) -------------------------

TELLUS_TOKEN_TTL_SECONDS = env_int("TELLUS_TOKEN_TTL_SECONDS", 86400, minimum=1)
TELLUS_DEVICE_SECRET_TTL_SECONDS = env_int(
    "TELLUS_DEVICE_SECRET_TTL_SECONDS", 365 * 86400, minimum=1
)
TELLUS_LONG_POLL_DEFAULT_SECONDS = env_int("TELLUS_LONG_POLL_DEFAULT_SECONDS", 30, minimum=1)
TELLUS_LONG_POLL_MAX_SECONDS = env_int("TELLUS_LONG_POLL_MAX_SECONDS", 60, minimum=1)
# While Redis is unreachable, long polls look for commands this often instead.
TELLUS_LONG_POLL_FALLBACK_SECONDS = env_float("TELLUS_LONG_POLL_FALLBACK_SECONDS", 2.0, minimum=0.1)
TELLUS_COMMAND_EXPIRY_SECONDS = env_int("TELLUS_COMMAND_EXPIRY_SECONDS", 300, minimum=1)
TELLUS_COMMAND_NO_RESPONSE_SECONDS = env_int("TELLUS_COMMAND_NO_RESPONSE_SECONDS", 120, minimum=1)
TELLUS_COMMAND_EXECUTION_TIMEOUT_SECONDS = env_int(
    "TELLUS_COMMAND_EXECUTION_TIMEOUT_SECONDS", 12 * 3600, minimum=1
)
TELLUS_SWEEP_INTERVAL_SECONDS = env_int("TELLUS_SWEEP_INTERVAL_SECONDS", 15, minimum=1)
# How often running firmware campaigns are driven (commands queued, stages moved, halts).
TELLUS_CAMPAIGN_INTERVAL_SECONDS = env_int("TELLUS_CAMPAIGN_INTERVAL_SECONDS", 15, minimum=1)
# How many times a campaign sends its upgrade to a charger that never took it (offline).
TELLUS_CAMPAIGN_MAX_ATTEMPTS = env_int("TELLUS_CAMPAIGN_MAX_ATTEMPTS", 5, minimum=1)
TELLUS_OFFLINE_AFTER_SECONDS = env_int("TELLUS_OFFLINE_AFTER_SECONDS", 90, minimum=1)
# A heartbeat after a longer silence is a reconnect too, offline grace passed or not.
TELLUS_RECONNECT_GAP_SECONDS = env_int("TELLUS_RECONNECT_GAP_SECONDS", 60, minimum=1)
TELLUS_RECONNECT_STORM_THRESHOLD = env_int("TELLUS_RECONNECT_STORM_THRESHOLD", 5, minimum=1)
TELLUS_RECONNECT_STORM_WINDOW_SECONDS = env_int(
    "TELLUS_RECONNECT_STORM_WINDOW_SECONDS", 600, minimum=1
)
TELLUS_LEGACY_RETRY_SCHEDULE = env_retry_schedule(
    "TELLUS_LEGACY_RETRY_SCHEDULE", [60, 300, 3600, 10800, 86400]
)
TELLUS_LEGACY_PUSH_TIMEOUT_SECONDS = env_int("TELLUS_LEGACY_PUSH_TIMEOUT_SECONDS", 10, minimum=1)
TELLUS_RATE_OPERATOR_QUERY = env_rate("TELLUS_RATE_OPERATOR_QUERY", "60/minute")
TELLUS_RATE_OPERATOR_CONTROL = env_rate("TELLUS_RATE_OPERATOR_CONTROL", "30/minute")
TELLUS_RATE_TOKEN = env_rate("TELLUS_RATE_TOKEN", "10/minute")
# Wrong secrets, counted per id *and* source address (see fleet.ratelimit.credential_attempt).
TELLUS_RATE_TOKEN_FAILURES = env_rate("TELLUS_RATE_TOKEN_FAILURES", "10/minute")
# Failed password checks on every form that takes one (console/web/signin.py): per
# username and address, per address (one source trying many names), per username (many
# sources trying one name).
TELLUS_RATE_CONSOLE_LOGIN_FAILURES = env_rate("TELLUS_RATE_CONSOLE_LOGIN_FAILURES", "5/5minute")
TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_ADDRESS = env_rate(
    "TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_ADDRESS", "30/15minute"
)
TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_USER = env_rate(
    "TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_USER", "20/5minute"
)
# The per-username limit spares browsers holding a device cookie of that user (issued at
# a successful sign-in); such a cookie that keeps failing is limited on its own.
TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_DEVICE = env_rate(
    "TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_DEVICE", "5/5minute"
)
TELLUS_DEVICE_COOKIE_DAYS = env_int("TELLUS_DEVICE_COOKIE_DAYS", 365, minimum=1)
TELLUS_RATE_DEVICE_HIGH_FREQUENCY = env_rate("TELLUS_RATE_DEVICE_HIGH_FREQUENCY", "10/second")
TELLUS_RATE_DEVICE_OTHER = env_rate("TELLUS_RATE_DEVICE_OTHER", "60/minute")
TELLUS_STREAM_CADENCE_SECONDS = env_int("TELLUS_STREAM_CADENCE_SECONDS", 5, minimum=1)
TELLUS_STREAM_MIN_INTERVAL_SECONDS = env_float("TELLUS_STREAM_MIN_INTERVAL_SECONDS", 1.0)
TELLUS_STREAM_MAX_DEVICES = env_int("TELLUS_STREAM_MAX_DEVICES", 500, minimum=1)
# Streams open at once per API client, counted across processes by leases in Redis that
# each stream refreshes while it lives (api/stream_leases.py); a dead process's streams
# stop counting when their leases run out.
TELLUS_STREAM_MAX_PER_CLIENT = env_int("TELLUS_STREAM_MAX_PER_CLIENT", 10, minimum=1)
TELLUS_STREAM_LEASE_SECONDS = env_float("TELLUS_STREAM_LEASE_SECONDS", 30.0, minimum=1.0)
# Where rate-limit counters live: Redis (shared by all processes) or process memory.
TELLUS_RATE_LIMIT_STORAGE_URL = REDIS_URL or "memory://"
TELLUS_MAX_BODY_BYTES = env_int("TELLUS_MAX_BODY_BYTES", 256 * 1024, minimum=1024)
TELLUS_CLOCK_SKEW_SECONDS = env_int("TELLUS_CLOCK_SKEW_SECONDS", 300, minimum=0)
# Key material for sealed client secrets, newest first (fleet/secrets_box.py); the
# single-key TELLUS_ENCRYPTION_KEY of earlier releases still counts as a list of one.
TELLUS_ENCRYPTION_KEYS = env_list("TELLUS_ENCRYPTION_KEYS", []) or env_list(
    "TELLUS_ENCRYPTION_KEY", []
)
if any(len(key) < 32 for key in TELLUS_ENCRYPTION_KEYS):
    raise ImproperlyConfigured(
        "TELLUS_ENCRYPTION_KEYS: each key needs at least 32 characters "
        "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )
# Proxies whose X-Forwarded-For is believed (addresses or networks); none by default.
TELLUS_TRUSTED_PROXIES = env_networks("TELLUS_TRUSTED_PROXIES")

# Django reads the body into memory only up to this size; larger bodies are refused
# before they reach a view (see api.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = TELLUS_MAX_BODY_BYTES
