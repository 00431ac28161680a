"""Noticing that a dependency (Redis) is down, saying so once, and not waiting on it
for every request while it stays down.

A `Breaker` is consulted before each use of the dependency: after a failure it answers
"skip it" for `retry_seconds`, so a dead or black-holed Redis costs one connect timeout
per interval instead of one per request; the first success after an outage closes it
again. Each transition is logged once, not per request, and a dependency that flaps
(fails, answers, fails again) is reported at most once a `log_seconds` with the number
of outages the quiet period hid.
"""

import logging
import threading
import time

import redis

logger = logging.getLogger("tellus.outage")

# What a Redis outage looks like to our code: redis-py's errors (connection refused,
# timeouts, a restarting server) and the socket errors under them.
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

# The close reason of a WebSocket refused (close code 1013) because Redis is down.
LIVE_UPDATES_DOWN = "live updates unavailable; retry with backoff"


class Breaker:
    """Whether to try a dependency now; shared by every thread and event loop of a process."""

    def __init__(
        self, name: str, fallback: str, retry_seconds: float = 1.0, log_seconds: float = 60.0
    ):
        self.name = name
        self.fallback = fallback
        self.retry_seconds = retry_seconds
        self.log_seconds = log_seconds
        self._retry_at = 0.0
        self._down = False
        self._lock = threading.Lock()
        self._logged_at = -float("inf")
        self._unlogged_outages = 0
        self._logged_down = False

    @property
    def down(self) -> bool:
        return self._down

    def skip(self) -> bool:
        """True while a recent failure says not to try yet."""
        return self._down and time.monotonic() < self._retry_at

    def failed(self, error: BaseException) -> None:
        with self._lock:
            now = time.monotonic()
            self._retry_at = now + self.retry_seconds
            if self._down:
                return
            self._down = True
            if now - self._logged_at < self.log_seconds:
                self._unlogged_outages += 1
                return
            hidden, self._unlogged_outages = self._unlogged_outages, 0
            self._logged_at, self._logged_down = now, True
        logger.warning(
            "%s unavailable (%s): %s%s",
            self.name,
            error,
            self.fallback,
            f" ({hidden} more brief outages in the last {self.log_seconds:.0f} s)"
            if hidden
            else "",
        )

    def succeeded(self) -> None:
        if not self._down:
            return
        with self._lock:
            if not self._down:
                return
            self._down = False
            # Recovery is reported only for an outage that was reported.
            if not self._logged_down:
                return
            self._logged_down = False
        logger.warning("%s available again", self.name)
