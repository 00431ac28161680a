"""Command wake-ups: one Redis subscription per event loop, however many long polls
arrive at once."""

import asyncio

import pytest

from fleet.live import publish


@pytest.fixture
def redis_wakeups(settings):
    assert settings.REDIS_URL, "these tests need Redis"


async def test_a_burst_of_polls_subscribes_once(redis_wakeups):
    try:
        answers = await asyncio.gather(*(publish._ensure_listener() for _ in range(50)))
        assert answers == [True] * 50
        listeners = [
            task
            for task in asyncio.all_tasks()
            if task.get_name() == "tellus-command-wakeups" and not task.done()
        ]
        assert len(listeners) == 1
        assert publish._listeners[asyncio.get_running_loop()] is listeners[0]
    finally:
        await publish.stop_listeners()


async def test_a_queued_command_wakes_a_poll_through_the_subscription(redis_wakeups):
    try:
        async with publish.command_waiter("dvc_wakeup_test") as waiter:
            assert await waiter.reachable()
            await asyncio.to_thread(publish.announce_command, "dvc_wakeup_test")
            assert await waiter.wait(5)
    finally:
        await publish.stop_listeners()
