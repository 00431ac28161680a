"""A dependency's outages are logged once each, and a flapping one at most once a
minute with the count of the outages in between."""

import logging

import pytest

from fleet import outage
from fleet.outage import Breaker


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(outage.time, "monotonic", lambda: now[0])
    return now


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tellus.outage"]


def test_an_outage_is_logged_once_and_its_end_once(clock, caplog):
    breaker = Breaker("Redis (x)", "falling back", retry_seconds=1.0)
    with caplog.at_level(logging.WARNING, logger="tellus.outage"):
        for _ in range(50):
            breaker.failed(ConnectionError("refused"))
        assert breaker.skip()
        clock[0] += 2
        assert not breaker.skip()
        breaker.succeeded()
        breaker.succeeded()
    assert messages(caplog) == [
        "Redis (x) unavailable (refused): falling back",
        "Redis (x) available again",
    ]


def test_a_flapping_dependency_is_reported_once_a_minute_with_a_count(clock, caplog):
    breaker = Breaker("Redis (x)", "falling back", retry_seconds=1.0, log_seconds=60.0)
    with caplog.at_level(logging.WARNING, logger="tellus.outage"):
        for _ in range(10):  # ten one-second outages within 30 s
            breaker.failed(ConnectionError("busy"))
            clock[0] += 3
            breaker.succeeded()
        clock[0] += 60
        breaker.failed(ConnectionError("busy"))
    assert messages(caplog) == [
        "Redis (x) unavailable (busy): falling back",
        "Redis (x) available again",
        "Redis (x) unavailable (busy): falling back (9 more brief outages in the last 60 s)",
    ]
    # Between the reports the breaker still did its job every time.
    assert breaker.down and breaker.skip()
