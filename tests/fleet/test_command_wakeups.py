"""Command wake-ups: one Redis subscription per event loop, however many long polls
arrive at once."""

import asyncio
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from console.env import redis_backed_services
from fleet.live import publish
from fleet.pools import pubsub_namespace


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


async def test_a_wake_up_from_another_database_of_the_same_redis_is_not_heard(redis_wakeups):
    """Pub/sub channels belong to the whole Redis server, not to a database: installations
    (or test workers) on other databases of the server must not wake this one's polls."""
    parts = urlsplit(settings.REDIS_URL)
    own = pubsub_namespace(settings.REDIS_URL)
    other = pubsub_namespace(urlunsplit(parts._replace(path="/" + str(int(parts.path[1:]) ^ 1))))
    assert own != other
    announcer = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        async with publish.command_waiter("dvc_wakeup_other") as waiter:
            assert await waiter.reachable()
            await announcer.publish(other + "command-queued:dvc_wakeup_other", b"1")
            assert not await waiter.wait(1)
            await announcer.publish(own + "command-queued:dvc_wakeup_other", b"1")
            assert await waiter.wait(5)
    finally:
        await announcer.aclose()
        await publish.stop_listeners()


def test_live_pages_of_installations_on_two_databases_do_not_share_channels():
    first = redis_backed_services("redis://127.0.0.1:6379/3", prefix="tellus")[1]
    second = redis_backed_services("redis://127.0.0.1:6379/4", prefix="tellus")[1]
    assert first["default"]["CONFIG"]["prefix"] != second["default"]["CONFIG"]["prefix"]
