"""Rate limits per API client, charger and console sign-in (the platform rate classes),
with the `limits` library's moving window: a limit of N per period holds over *every*
period-long span, so a burst straddling a window boundary cannot pass twice the rate.

Counters live in Redis when configured, so every server process counts into the same
buckets, and in process memory on the embedded default. Should Redis fail, limits fail
open to this process's memory (still limiting, per process) and say so once in the log;
Redis is tried again every second and used as soon as it answers.
"""

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio import storage as aio_storage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import BlockingConnectionPool as SyncBlockingConnectionPool
from redis.exceptions import MaxConnectionsError

from fleet.errors import NotAuthenticated, TooManyRequests
from fleet.outage import REDIS_ERRORS, Breaker
from fleet.pools import REDIS_POOL_SIZE, REDIS_POOL_WAIT_SECONDS, PerLoop, async_redis_pool

# Rate class -> the setting that holds its (requests, seconds).
RATE_CLASSES = {
    "device_high_frequency": "TELLUS_RATE_DEVICE_HIGH_FREQUENCY",
    "device_other": "TELLUS_RATE_DEVICE_OTHER",
    "device_token": "TELLUS_RATE_TOKEN",
    "device_token_failures": "TELLUS_RATE_TOKEN_FAILURES",
    "device_register": "TELLUS_RATE_DEVICE_OTHER",
    "operator_query": "TELLUS_RATE_OPERATOR_QUERY",
    "operator_control": "TELLUS_RATE_OPERATOR_CONTROL",
    "operator_token": "TELLUS_RATE_TOKEN",
    "operator_token_failures": "TELLUS_RATE_TOKEN_FAILURES",
    "console_login_failures": "TELLUS_RATE_CONSOLE_LOGIN_FAILURES",
    "console_login_failures_per_address": "TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_ADDRESS",
    "console_login_failures_per_user": "TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_USER",
    "console_login_failures_per_device": "TELLUS_RATE_CONSOLE_LOGIN_FAILURES_PER_DEVICE",
}

_STORAGE_ERRORS = (StorageError, *REDIS_ERRORS)
# Short timeouts: a black-holed Redis must cost a request a second at most, once a second.
_REDIS_OPTIONS = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
# Connections per pool (one sync pool per process, one async pool per event loop). A
# request waits up to _POOL_WAIT_SECONDS for one rather than failing at once.
_POOL_SIZE = REDIS_POOL_SIZE
_POOL_WAIT_SECONDS = REDIS_POOL_WAIT_SECONDS

_redis = Breaker("Redis (rate limits)", "counting in process memory until it returns")


def rate_item(rate_class: str) -> RateLimitItem:
    amount, seconds = getattr(settings, RATE_CLASSES[rate_class])
    return RateLimitItemPerSecond(amount, seconds)


def _shared() -> bool:
    return settings.TELLUS_RATE_LIMIT_STORAGE_URL.startswith("redis")


@cache
def _memory_limiter() -> MovingWindowRateLimiter:
    """This process's counters: the embedded default, and the fallback while Redis is down."""
    return MovingWindowRateLimiter(MemoryStorage())


@cache
def _redis_limiter() -> MovingWindowRateLimiter:
    # Bounded and blocking, as the async pool: redis-py's default pool fails a request
    # outright once 100 threads hold connections, which read as an outage.
    pool = SyncBlockingConnectionPool.from_url(
        settings.TELLUS_RATE_LIMIT_STORAGE_URL,
        max_connections=_POOL_SIZE,
        timeout=_POOL_WAIT_SECONDS,
        **_REDIS_OPTIONS,
    )
    storage = RedisStorage(
        settings.TELLUS_RATE_LIMIT_STORAGE_URL, connection_pool=pool, wrap_exceptions=True
    )
    return MovingWindowRateLimiter(storage)


def congested(error: BaseException) -> bool:
    """Whether a storage error is our own pool running dry (every connection busy past
    the wait) rather than Redis failing: that is load on this process, not an outage."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, MaxConnectionsError) or "No connection available" in str(seen):
            return True
        seen = getattr(seen, "storage_error", None) or seen.__cause__
    return False


def _storage_failed(error: BaseException) -> None:
    # A dry pool falls back to memory for this request only; Redis itself answers.
    if not congested(error):
        _redis.failed(error)


def _new_async_redis_limiter() -> AsyncMovingWindow:
    # A bounded pool that waits for a free connection: thousands of chargers
    # arriving at once must queue for Redis, not fail.
    pool = async_redis_pool(
        settings.TELLUS_RATE_LIMIT_STORAGE_URL,
        max_connections=_POOL_SIZE,
        timeout=_POOL_WAIT_SECONDS,
    )
    storage = aio_storage.RedisStorage(
        "async+" + settings.TELLUS_RATE_LIMIT_STORAGE_URL,
        implementation="redispy",
        wrap_exceptions=True,
        connection_pool=pool,
    )
    return AsyncMovingWindow(storage)


# The async Redis client belongs to one event loop, so each loop gets its own limiter.
_async_limiters = PerLoop(_new_async_redis_limiter)


def _async_redis_limiter() -> AsyncMovingWindow:
    return _async_limiters.get()


def _refusal(limiter, item: RateLimitItem, identifiers: tuple[str, ...]) -> TooManyRequests:
    reset_time = limiter.get_window_stats(item, *identifiers).reset_time
    return TooManyRequests(max(1, math.ceil(reset_time - time.time())))


def _apply(rate_class: str, identifiers: tuple[str, ...], *, count: bool) -> None:
    """Count (or only test) one request; raise 429/5001 when the class is exhausted."""
    item = rate_item(rate_class)
    keys = (rate_class, *identifiers)
    if _shared() and not _redis.skip():
        limiter = _redis_limiter()
        try:
            allowed = limiter.hit(item, *keys) if count else limiter.test(item, *keys)
            if not allowed:
                raise _refusal(limiter, item, keys)
            _redis.succeeded()
            return
        except _STORAGE_ERRORS as error:
            _storage_failed(error)
    _apply_in_memory(item, keys, count=count)


def _apply_in_memory(item: RateLimitItem, keys: tuple[str, ...], *, count: bool) -> None:
    limiter = _memory_limiter()
    allowed = limiter.hit(item, *keys) if count else limiter.test(item, *keys)
    if not allowed:
        raise _refusal(limiter, item, keys)


def enforce(rate_class: str, *identifiers: str) -> None:
    """Count one request of the subject in its class; 429/5001 once the class is full."""
    _apply(rate_class, identifiers, count=True)


def check(rate_class: str, *identifiers: str) -> None:
    """429/5001 if the class is already full for the subject; counts nothing."""
    _apply(rate_class, identifiers, count=False)


def clear(rate_class: str, *identifiers: str) -> None:
    """Empty the subject's bucket in its class (staff lifting a lock-out), in Redis and in
    this process's memory."""
    item = rate_item(rate_class)
    keys = (rate_class, *identifiers)
    if _shared():
        try:
            _redis_limiter().clear(item, *keys)
        except _STORAGE_ERRORS as error:
            _storage_failed(error)
    _memory_limiter().clear(item, *keys)


async def aenforce(rate_class: str, *identifiers: str) -> None:
    """`enforce` for the charger fast path, on the event loop's own Redis client."""
    if not _shared() or _redis.skip():
        _apply(rate_class, identifiers, count=True)
        return
    item = rate_item(rate_class)
    keys = (rate_class, *identifiers)
    limiter = _async_redis_limiter()
    try:
        allowed = await limiter.hit(item, *keys)
        if not allowed:
            stats = await limiter.get_window_stats(item, *keys)
            raise TooManyRequests(max(1, math.ceil(stats.reset_time - time.time())))
    except _STORAGE_ERRORS as error:
        _storage_failed(error)
        # In memory, never the blocking client: this runs on the event loop.
        _apply_in_memory(item, keys, count=True)
        return
    _redis.succeeded()


@contextmanager
def credential_attempt(rate_class: str, subject: str, source: str) -> Iterator[None]:
    """A token request for `subject` (a client or device id) from `source` (an address).

    Wrong credentials are counted per subject *and* source, and that address is refused
    once it has failed too often; correct ones are counted per subject only. So somebody
    guessing secrets for an id slows only themselves, never its owner.
    """
    failures = f"{rate_class}_failures"
    check(failures, subject, source)
    try:
        yield
    except NotAuthenticated:
        try:
            enforce(failures, subject, source)
        except TooManyRequests:
            pass  # this failure filled the bucket: refused from the next attempt on
        raise
    enforce(rate_class, subject)
