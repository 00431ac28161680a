"""Rate limits fail open to process memory while Redis is unreachable: requests are
still limited (per process), the outage is logged once, and Redis is used again as soon
as it answers."""

import logging

import pytest

from fleet import ratelimit
from fleet.errors import TooManyRequests
from fleet.outage import Breaker
from tests.live_server import free_port


@pytest.fixture
def redis_unreachable(settings, monkeypatch):
    settings.TELLUS_RATE_LIMIT_STORAGE_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.TELLUS_RATE_OPERATOR_QUERY = (3, 60)
    monkeypatch.setattr(ratelimit, "_redis", Breaker("Redis (rate limits)", "memory", 0.0))
    ratelimit._redis_limiter.cache_clear()
    ratelimit._memory_limiter.cache_clear()
    yield
    ratelimit._redis_limiter.cache_clear()
    ratelimit._memory_limiter.cache_clear()


def test_limits_still_hold_in_memory_and_the_outage_is_logged_once(redis_unreachable, caplog):
    with caplog.at_level(logging.WARNING, logger="tellus.outage"):
        for _ in range(3):
            ratelimit.enforce("operator_query", "cli_outage")
        with pytest.raises(TooManyRequests):
            ratelimit.enforce("operator_query", "cli_outage")
    outage_lines = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outage_lines) == 1
    assert "memory" in outage_lines[0].getMessage()


async def test_the_async_path_falls_back_the_same_way(redis_unreachable):
    for _ in range(3):
        await ratelimit.aenforce("operator_query", "cli_outage_async")
    with pytest.raises(TooManyRequests):
        await ratelimit.aenforce("operator_query", "cli_outage_async")


def test_redis_is_used_again_once_it_answers(redis_unreachable, settings, caplog):
    ratelimit.enforce("operator_query", "cli_back")
    assert ratelimit._redis.down
    settings.TELLUS_RATE_LIMIT_STORAGE_URL = settings.REDIS_URL
    ratelimit._redis_limiter.cache_clear()
    with caplog.at_level(logging.WARNING, logger="tellus.outage"):
        ratelimit.enforce("operator_query", "cli_back")
    assert not ratelimit._redis.down
    assert any("available again" in r.getMessage() for r in caplog.records)


def test_a_busy_pool_is_not_an_outage(settings, monkeypatch, caplog):
    """Every connection of this process's pool in use past the wait is load, not Redis
    failing: the request is counted in memory and the breaker stays closed."""
    settings.TELLUS_RATE_LIMIT_STORAGE_URL = settings.REDIS_URL
    monkeypatch.setattr(ratelimit, "_redis", Breaker("Redis (rate limits)", "memory", 0.0))
    monkeypatch.setattr(ratelimit, "_POOL_SIZE", 1)
    monkeypatch.setattr(ratelimit, "_POOL_WAIT_SECONDS", 0.05)
    ratelimit._redis_limiter.cache_clear()
    ratelimit._memory_limiter.cache_clear()
    try:
        pool = ratelimit._redis_limiter().storage.storage.connection_pool
        held = pool.get_connection()
        try:
            with caplog.at_level(logging.WARNING, logger="tellus.outage"):
                ratelimit.enforce("operator_query", "cli_busy_pool")
        finally:
            pool.release(held)
        assert not ratelimit._redis.down
        assert not [r for r in caplog.records if "unavailable" in r.getMessage()]
        assert (
            ratelimit._memory_limiter()
            .get_window_stats(
                ratelimit.rate_item("operator_query"), "operator_query", "cli_busy_pool"
            )
            .remaining
            == ratelimit.rate_item("operator_query").amount - 1
        )
    finally:
        ratelimit._redis_limiter.cache_clear()
        ratelimit._memory_limiter.cache_clear()
