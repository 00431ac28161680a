"""Reading configuration from the environment, failing loudly on nonsense values."""

import os
import re
import secrets
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

from fleet.pools import POSTGRES_POOL_MAX_SIZE, POSTGRES_POOL_MIN_SIZE, pubsub_namespace
from fleet.private_files import create_private_once

# "60/minute", or with a count of periods (the limits library's notation): "5/15minute".
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day)\s*$")
_RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Comma-separated addresses or CIDR networks (`10.0.0.0/8,::1`)."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks, got {item!r}"
            ) from None
    return tuple(networks)


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate such as `60/minute` or `5/15minute`, returned as (requests, seconds)."""
    raw = os.environ.get(name) or default
    match = _RATE_RE.match(raw)
    periods = int(match.group(2) or 1) if match else 0
    if not match or int(match.group(1)) < 1 or not 1 <= periods <= 1000:
        raise ImproperlyConfigured(
            f"{name} must look like '60/minute' or '5/15minute', got {raw!r}"
        )
    return int(match.group(1)), periods * _RATE_PERIODS[match.group(3)]


def env_retry_schedule(name: str, default: list[int]) -> list[int]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        delays = [int(part) for part in raw.split(",")]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be comma-separated seconds, got {raw!r}") from exc
    if not delays or any(delay < 0 for delay in delays):
        raise ImproperlyConfigured(f"{name} must list non-negative seconds, got {raw!r}")
    return delays


# The server, the worker and the simulator write at once: WAL lets readers go on while one
# writes, IMMEDIATE takes the write lock up front (no lock-upgrade deadlock) and a writer
# waits its turn for up to 20 s instead of failing.
SQLITE_OPTIONS = {
    "timeout": 20,
    "transaction_mode": "IMMEDIATE",
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}


def parse_database_url(url: str) -> dict:
    """Turn `postgres://user:pass@host:port/name?opt=v` into a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql", "pgsql", "postgresql+psycopg"}:
        config: dict = {
            # Django's, with a pool that hands out only live connections (a database
            # restart costs no request once it is back; see console.postgresql).
            "ENGINE": "console.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # Under ASGI each request's sync work runs on its own thread, so persistent
            # per-thread connections would pile up; psycopg's pool is shared instead.
            "CONN_MAX_AGE": 0,
            # The pool checks each connection before handing it out (console.postgresql),
            # so connections that died with a database restart are replaced instead of
            # failing a request.
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "pool": {"min_size": POSTGRES_POOL_MIN_SIZE, "max_size": POSTGRES_POOL_MAX_SIZE},
                **dict(parse_qsl(parts.query)),
            },
        }
        return config
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": parts.path[1:],
            "OPTIONS": dict(SQLITE_OPTIONS),
        }
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported")


def redis_backed_services(url: str, prefix: str) -> tuple[dict, dict]:
    """CACHES and CHANNEL_LAYERS settings for one Redis database."""
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }
    channel_layers = {
        "default": {
            # Pub/sub: a group send is one PUBLISH, cheap enough for every telemetry sample;
            # live frames need no persistence.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Channels are server-wide: the prefix names the database (pubsub_namespace).
            "CONFIG": {"hosts": [url], "prefix": f"{pubsub_namespace(url)}{prefix}:channels"},
        }
    }
    return caches, channel_layers


def load_or_create_secret_key(path: Path) -> str:
    """Generate SECRET_KEY once into var/ so sessions survive restarts on a laptop; the
    file is 0600 from its creation (and tightened if an older release left it looser)."""
    create_private_once(path, secrets.token_urlsafe(50))
    return path.read_text().strip()


def private_sqlite_file(path: Path) -> Path:
    """The embedded database's file, created empty with mode 0600 before SQLite opens it
    (it holds password hashes, sessions and sealed client secrets; SQLite gives its WAL
    and shared-memory files the database file's mode)."""
    create_private_once(path, "")
    return path
