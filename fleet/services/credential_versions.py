"""The current credential version of each API client and device, as every server process
sees it. Bumping a version revokes the tokens issued under the old one.

Steady state: process memory in front of Redis (a few seconds, jittered). A change is
SET in Redis and PUBLISHed; a listener thread in every process applies it to memory at
once and tells local watchers (open streams), so a revocation reaches every process
well under a second. While that listener is not subscribed (Redis away, or not yet
started) memory is not trusted and every check asks Redis, or the database behind it.
On the embedded default (no Redis) there is one process and memory is the truth.
"""

import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from functools import cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

from fleet.outage import REDIS_ERRORS, Breaker
from fleet.pools import pubsub_namespace, redis_client_per_loop

logger = logging.getLogger(__name__)

# While Redis is away, token checks read the database without first waiting on Redis.
_redis = Breaker("Redis (credential versions)", "tokens are checked against the database")

LOCAL_TTL_SECONDS = 5.0
REDIS_TTL_SECONDS = 600
_local: dict[tuple[str, str], tuple[int, float]] = {}
# Changes not yet in Redis, newest version per subject (see send_unsent).
_unsent: dict[tuple[str, str], int] = {}
_unsent_lock = threading.Lock()
_watchers: dict[tuple[str, str], set[Callable[[int], None]]] = defaultdict(set)
_async_clients = redis_client_per_loop(lambda: settings.REDIS_URL)


def _channel() -> str:
    return pubsub_namespace(settings.REDIS_URL) + "credver:changes"


def _key(kind: str, subject: str) -> str:
    return f"tellus:credver:{kind}:{subject}"


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def _async_client() -> aioredis.Redis:
    return _async_clients.get()


class _Listener:
    """One thread per process subscribed to the changes; `live` while subscribed."""

    def __init__(self) -> None:
        self.live = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure_started(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="tellus-credential-versions", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                subscription = redis.Redis.from_url(
                    settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=10
                ).pubsub(ignore_subscribe_messages=True)
                subscription.subscribe(_channel())
                # Changes made while unsubscribed were missed: start from an empty memory.
                _local.clear()
                send_unsent()
                self.live.set()
                delay = 0.5
                for message in subscription.listen():
                    if message.get("type") == "message":
                        _apply_change(message["data"])
            except Exception:  # Redis away: check against Redis/the database until back
                if self.live.is_set():
                    logger.warning("Credential-version listener lost Redis; retrying")
                self.live.clear()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)


_listener = _Listener()


def _apply_change(raw: bytes) -> None:
    try:
        kind, subject, version = raw.decode().rsplit(":", 2)
        _learn(kind, subject, int(version))
    except (ValueError, UnicodeDecodeError):
        logger.warning("Ignored a malformed credential-version change: %r", raw[:100])


def _learn(kind: str, subject: str, version: int) -> None:
    _remember(kind, subject, version)
    for callback in list(_watchers.get((kind, subject), ())):
        try:
            callback(version)
        except Exception:
            logger.exception("A credential-version watcher failed")


def _remember(kind: str, subject: str, version: int) -> int:
    # Jittered, so entries learnt together (a fleet reconnecting) do not expire together.
    ttl = LOCAL_TTL_SECONDS * (0.5 + random.random() / 2)  # noqa: S311 - not security
    _local[(kind, subject)] = (version, time.monotonic() + ttl)
    return version


def _local_version(kind: str, subject: str) -> int | None:
    if settings.REDIS_URL:
        _listener.ensure_started()
        if not _listener.live.is_set():
            return None
    entry = _local.get((kind, subject))
    if entry is not None and entry[1] > time.monotonic():
        return entry[0]
    return None


def publish(kind: str, subject: str, version: int) -> None:
    """Make `version` current for the subject in every process (0 = revoked)."""
    _learn(kind, subject, version)
    if not settings.REDIS_URL:
        return
    with _unsent_lock:
        _unsent[(kind, subject)] = version
    send_unsent()


def send_unsent() -> None:
    """Share the changes Redis has not heard of yet. A change made while Redis was away
    must still reach it: a Redis that only lost touch keeps the old version, which other
    processes would go on trusting. Retried whenever the listener (re)subscribes."""
    with _unsent_lock:
        while _unsent:
            (kind, subject), version = next(iter(_unsent.items()))
            try:
                pipe = _client().pipeline(transaction=False)
                # The expiry bounds how long a version can outlive a change that never
                # got here (its process died during an outage); a miss reads the database.
                pipe.set(_key(kind, subject), version, ex=REDIS_TTL_SECONDS)
                pipe.publish(_channel(), f"{kind}:{subject}:{version}")
                pipe.execute()
            except REDIS_ERRORS:
                # Meanwhile the database holds the version: other processes read it there
                # while their listeners are down, and drop their memory on resubscribing.
                logger.warning("Redis unavailable: %d credential change(s) unshared", len(_unsent))
                return
            del _unsent[(kind, subject)]


def remember(kind: str, subject: str, version: int) -> None:
    """Keep a version read from the database in memory and in Redis (no broadcast)."""
    _remember(kind, subject, version)
    if settings.REDIS_URL and not _redis.skip():
        try:
            _client().set(_key(kind, subject), version, nx=True, ex=REDIS_TTL_SECONDS)
        except REDIS_ERRORS as error:
            _redis.failed(error)


def cached(kind: str, subject: str) -> int | None:
    """The version from memory or Redis; None sends the caller to the database."""
    version = _local_version(kind, subject)
    if version is None and settings.REDIS_URL and not _redis.skip():
        try:
            raw = _client().get(_key(kind, subject))
        except REDIS_ERRORS as error:
            _redis.failed(error)
            return None
        _redis.succeeded()
        if raw is not None:
            version = _remember(kind, subject, int(raw))
    return version


async def acached(kind: str, subject: str) -> int | None:
    version = _local_version(kind, subject)
    if version is None and settings.REDIS_URL and not _redis.skip():
        try:
            raw = await _async_client().get(_key(kind, subject))
        except REDIS_ERRORS as error:
            _redis.failed(error)
            return None
        _redis.succeeded()
        if raw is not None:
            version = _remember(kind, subject, int(raw))
    return version


def watch(kind: str, subject: str, callback: Callable[[int], None]) -> Callable[[], None]:
    """Call `callback(version)` (from any thread) whenever the subject's version changes
    in any process; returns the function that stops watching."""
    if settings.REDIS_URL:
        _listener.ensure_started()
    _watchers[(kind, subject)].add(callback)

    def stop() -> None:
        watching = _watchers.get((kind, subject))
        if watching is not None:
            watching.discard(callback)
            if not watching:
                _watchers.pop((kind, subject), None)

    return stop


def forget_local() -> None:
    _local.clear()
    with _unsent_lock:
        _unsent.clear()
