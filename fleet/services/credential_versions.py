"""The current credential version of each API client and device, as every server process
sees it: a few seconds of process memory in front of Redis (or memory alone on the
embedded default). Bumping a version revokes the tokens issued under the old one."""

import asyncio
import random
import time
import weakref
from functools import cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

# Other processes notice a rotation within this many seconds.
LOCAL_TTL_SECONDS = 5.0
_local: dict[tuple[str, str], tuple[int, float]] = {}
_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis]" = (
    weakref.WeakKeyDictionary()
)


def _key(kind: str, subject: str) -> str:
    return f"tellus:credver:{kind}:{subject}"


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def _async_client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=64, timeout=10
        )
        client = _async_clients[loop] = aioredis.Redis(connection_pool=pool)
    return client


def _remember(kind: str, subject: str, version: int) -> int:
    # Jittered, so entries learnt together (a fleet reconnecting) do not expire together.
    ttl = LOCAL_TTL_SECONDS * (0.5 + random.random() / 2)  # noqa: S311 - not security
    _local[(kind, subject)] = (version, time.monotonic() + ttl)
    return version


def _local_version(kind: str, subject: str) -> int | None:
    entry = _local.get((kind, subject))
    if entry is not None and entry[1] > time.monotonic():
        return entry[0]
    return None


def publish(kind: str, subject: str, version: int) -> None:
    _remember(kind, subject, version)
    if settings.REDIS_URL:
        # No expiry: the key is rewritten on every change, and a miss (Redis restarted)
        # falls back to the database.
        _client().set(_key(kind, subject), version)


def cached(kind: str, subject: str) -> int | None:
    version = _local_version(kind, subject)
    if version is None and settings.REDIS_URL:
        raw = _client().get(_key(kind, subject))
        if raw is not None:
            version = _remember(kind, subject, int(raw))
    return version


async def acached(kind: str, subject: str) -> int | None:
    version = _local_version(kind, subject)
    if version is None and settings.REDIS_URL:
        raw = await _async_client().get(_key(kind, subject))
        if raw is not None:
            version = _remember(kind, subject, int(raw))
    return version


def forget_local() -> None:
    _local.clear()
