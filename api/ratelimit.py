"""Per-client and per-device rate limits (platform rate classes), with the `limits`
library: fixed windows in Redis when configured, so every server process counts into
the same buckets, and in process memory on the embedded default."""

import asyncio
import math
import time
import weakref
from functools import cache

from django.conf import settings
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio import storage as aio_storage
from limits.aio.strategies import FixedWindowRateLimiter as AsyncFixedWindow
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter
from redis.asyncio import BlockingConnectionPool

from fleet.errors import TooManyRequests

# Rate class -> the setting that holds its (requests, seconds).
RATE_CLASSES = {
    "device_high_frequency": "TELLUS_RATE_DEVICE_HIGH_FREQUENCY",
    "device_other": "TELLUS_RATE_DEVICE_OTHER",
    "device_token": "TELLUS_RATE_TOKEN",
    "device_register": "TELLUS_RATE_DEVICE_OTHER",
    "operator_query": "TELLUS_RATE_OPERATOR_QUERY",
    "operator_control": "TELLUS_RATE_OPERATOR_CONTROL",
    "operator_token": "TELLUS_RATE_TOKEN",
}

_async_limiters: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncFixedWindow]" = (
    weakref.WeakKeyDictionary()
)


def rate_item(rate_class: str) -> RateLimitItem:
    amount, seconds = getattr(settings, RATE_CLASSES[rate_class])
    return RateLimitItemPerSecond(amount, seconds)


@cache
def _sync_limiter() -> FixedWindowRateLimiter:
    url = settings.TELLUS_RATE_LIMIT_STORAGE_URL
    store = RedisStorage(url) if url.startswith("redis") else MemoryStorage()
    return FixedWindowRateLimiter(store)


def _async_limiter() -> AsyncFixedWindow:
    # The async Redis client belongs to one event loop, so each loop gets its own.
    loop = asyncio.get_running_loop()
    limiter = _async_limiters.get(loop)
    if limiter is None:
        url = settings.TELLUS_RATE_LIMIT_STORAGE_URL
        if url.startswith("redis"):
            # A bounded pool that waits for a free connection: thousands of chargers
            # arriving at once must queue for Redis, not fail.
            pool = BlockingConnectionPool.from_url(url, max_connections=64, timeout=10)
            store = aio_storage.RedisStorage(
                "async+" + url, implementation="redispy", connection_pool=pool
            )
        else:
            store = aio_storage.MemoryStorage()
        limiter = _async_limiters[loop] = AsyncFixedWindow(store)
    return limiter


def _retry_after(reset_time: float) -> int:
    return max(1, math.ceil(reset_time - time.time()))


def enforce(rate_class: str, subject: str) -> None:
    """Count one request of `subject` in its class; 429/5001 once the window is full."""
    item = rate_item(rate_class)
    limiter = _sync_limiter()
    if not limiter.hit(item, rate_class, subject):
        stats = limiter.get_window_stats(item, rate_class, subject)
        raise TooManyRequests(_retry_after(stats.reset_time))


async def aenforce(rate_class: str, subject: str) -> None:
    item = rate_item(rate_class)
    limiter = _async_limiter()
    if not await limiter.hit(item, rate_class, subject):
        stats = await limiter.get_window_stats(item, rate_class, subject)
        raise TooManyRequests(_retry_after(stats.reset_time))
