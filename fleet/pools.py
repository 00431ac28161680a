"""Connection pools: their sizes, written once, and one pool (or client) per event loop.

An asyncio Redis client or psycopg async pool belongs to the event loop it was made on:
its connections cannot be used from another. A process may run several loops (the
server's, a test's, async_to_sync's), so each loop gets its own object, made on first
use there and dropped with the loop (PerLoop)."""

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis

# Each of a process's two PostgreSQL pools — the ORM's (console.env) and the charger hot
# path's (fleet.db) — keeps this many connections; size PostgreSQL's max_connections by it.
POSTGRES_POOL_MIN_SIZE = 2
POSTGRES_POOL_MAX_SIZE = 20
# A Redis pool serving requests: bounded, and a request waits up to the wait for a free
# connection rather than failing at once (thousands of chargers arriving together queue).
REDIS_POOL_SIZE = 64
REDIS_POOL_WAIT_SECONDS = 10
# A black-holed Redis costs a request a second at most, then the caller's breaker opens.
REDIS_SOCKET_TIMEOUT = 1.0

T = TypeVar("T")


def pubsub_namespace(url: str) -> str:
    """A prefix for the pub/sub channels of the Redis database `url` names.

    Redis keys belong to a database, pub/sub channels to the whole server: two
    installations (or two test workers) on different databases of one server would hear
    each other's messages. Every channel this project publishes on starts with this."""
    database = urlsplit(url).path.strip("/") or "0"
    return f"tellus:{database}:"


class PerLoop(Generic[T]):
    """One object per event loop, made by `make` on first use in that loop."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._objects: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        """The running loop's object, made now if it has none."""
        loop = asyncio.get_running_loop()
        found = self._objects.get(loop)
        if found is None:
            found = self._objects[loop] = self._make()
        return found

    def pop(self) -> T | None:
        """Forget the running loop's object and return it (None if it had none)."""
        return self._objects.pop(asyncio.get_running_loop(), None)


def async_redis_pool(
    url: str,
    *,
    max_connections: int = REDIS_POOL_SIZE,
    timeout: float = REDIS_POOL_WAIT_SECONDS,
    socket_timeout: float = REDIS_SOCKET_TIMEOUT,
) -> aioredis.BlockingConnectionPool:
    """A bounded asyncio Redis pool that waits up to `timeout` for a free connection."""
    return aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_timeout=socket_timeout,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
    )


def redis_client_per_loop(
    url: Callable[[], str],
    *,
    max_connections: int = REDIS_POOL_SIZE,
    timeout: float = REDIS_POOL_WAIT_SECONDS,
) -> PerLoop[aioredis.Redis]:
    """An asyncio Redis client per event loop, on its own async_redis_pool. `url` is read
    when a loop's client is made, so settings changed by tests are honoured."""
    return PerLoop(
        lambda: aioredis.Redis(
            connection_pool=async_redis_pool(
                url(), max_connections=max_connections, timeout=timeout
            )
        )
    )
