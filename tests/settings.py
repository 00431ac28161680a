"""Test settings: the real settings, held to real PostgreSQL and Redis.

The suite refuses to run on the embedded default rather than quietly testing SQLite.
Redis is switched to its own database number (TELLUS_TEST_REDIS_DB, default 15) so the
suite can flush it without touching a developer's running system, and the Celery broker
to another (TELLUS_TEST_BROKER_DB, default 14).

Run in parallel (pytest -n, pytest-xdist), each worker gets a pair of its own: worker gw0
the pair above, gw1 the two below it (13 and 12), and so on, while pytest-django gives each
its own test database (test_tellus_gw0, ...). Servers and Celery workers a test starts
inherit PYTEST_XDIST_WORKER, so they read the same numbers from these settings.
"""

import os
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

from console.env import redis_backed_services
from console.settings import *  # noqa: F403
from console.settings import DATABASES, REDIS_URL

if DATABASES["default"]["ENGINE"] != "console.postgresql":
    raise ImproperlyConfigured(
        "The test suite runs against PostgreSQL: set DATABASE_URL "
        "(make test defaults it to postgres://postgres@127.0.0.1:5432/tellus)."
    )
if not REDIS_URL:
    raise ImproperlyConfigured(
        "The test suite runs against Redis: set REDIS_URL "
        "(make test defaults it to redis://127.0.0.1:6379/0)."
    )


def _redis_database(variable: str, default: int) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    number = int(os.environ.get(variable, default)) - 2 * int(worker or 0)
    if number < 1:  # database 0 is where a developer's own system lives
        raise ImproperlyConfigured(
            f"Not enough Redis databases for pytest worker gw{worker}: run fewer workers "
            "(-n), or raise TELLUS_TEST_REDIS_DB / TELLUS_TEST_BROKER_DB and Redis's "
            "`databases` setting."
        )
    return str(number)


_parts = urlsplit(REDIS_URL)
TEST_REDIS_URL = urlunsplit(_parts._replace(path="/" + _redis_database("TELLUS_TEST_REDIS_DB", 15)))
CACHES, CHANNEL_LAYERS = redis_backed_services(TEST_REDIS_URL, prefix="tellus-test")
REDIS_URL = TEST_REDIS_URL
# The broker gets a database of its own: tests flush TEST_REDIS_URL between cases, which
# would also wipe kombu's routing table under a running worker.
CELERY_BROKER_URL = urlunsplit(
    _parts._replace(path="/" + _redis_database("TELLUS_TEST_BROKER_DB", 14))
)
TELLUS_RATE_LIMIT_STORAGE_URL = TEST_REDIS_URL
# The suite reaches its servers over plain http, as `make run` does (TELLUS_PLAIN_HTTP);
# tests/test_production_settings.py checks the secure defaults in a process of its own.
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
