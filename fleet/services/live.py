"""Live signals: device messages on the Channels layer, and command wake-ups.

Every device has a channel-layer group (`device.<device_id>`) on which telemetry,
events, status and command changes are published for the operator stream and the
console. Separately, a long poll waiting for a device's next command is woken through
Redis pub/sub (one subscription per process, fanned out in memory), or directly in
memory on the embedded default.
"""

import asyncio
import logging
import weakref
from collections import defaultdict
from contextlib import asynccontextmanager, suppress
from functools import cache
from typing import Any

import redis
import redis.asyncio as aioredis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

logger = logging.getLogger(__name__)

_WAKEUP_PREFIX = "tellus:command-queued:"


def device_group(device_id: str) -> str:
    return f"device.{device_id}"


async def publish_device_message(device_id: str, message: dict[str, Any]) -> None:
    """Send a message to everyone watching the device; never fails or delays the caller
    for long. On Redis the message joins the process's next pipelined batch."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        if isinstance(layer, RedisPubSubChannelLayer):
            _batch_publisher().add(layer, device_group(device_id), message)
        else:
            await layer.group_send(device_group(device_id), message)
    except Exception:  # a live view missing one frame must not fail an ingest
        logger.warning("Could not publish %s for %s", message.get("type"), device_id, exc_info=True)


class _BatchPublisher:
    """Group sends for the Redis pub/sub layer, pipelined.

    The layer's own group_send takes a per-connection lock for every PUBLISH, so under
    ingest load all of a process's publishes queue behind each other, one round trip
    each. Here messages published while a batch is in flight go out together in the
    next one, in order. The wire format is the layer's own (its group channel name and
    serializer), so its consumers receive them unchanged.
    """

    def __init__(self) -> None:
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, max_connections=4, timeout=10
        )
        self._client = aioredis.Redis(connection_pool=pool)
        self._pending: list[tuple[str, bytes]] = []
        self._flushing: asyncio.Task | None = None

    def add(self, layer: RedisPubSubChannelLayer, group: str, message: dict[str, Any]) -> None:
        channel = layer._get_layer()._get_group_channel_name(group)
        self._pending.append((channel, layer.serialize(message)))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                pipe = self._client.pipeline(transaction=False)
                for channel, payload in batch:
                    pipe.publish(channel, payload)
                await pipe.execute()
            except redis.RedisError:
                logger.warning("Dropped %d live messages: Redis unavailable", len(batch))

    async def drain(self) -> None:
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)


_publishers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _BatchPublisher]" = (
    weakref.WeakKeyDictionary()
)


def _batch_publisher() -> _BatchPublisher:
    loop = asyncio.get_running_loop()
    publisher = _publishers.get(loop)
    if publisher is None:
        publisher = _publishers[loop] = _BatchPublisher()
    return publisher


def publish_device_message_sync(device_id: str, message: dict[str, Any]) -> None:
    """For sync callers (Celery tasks, the console): a plain group_send, since a batch
    would not outlive the short-lived event loop of async_to_sync."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(device_group(device_id), message)
    except Exception:
        logger.warning("Could not publish %s for %s", message.get("type"), device_id, exc_info=True)


# --- Command wake-ups ----------------------------------------------------------------------

# device_id -> futures of long polls waiting in this process (any event loop).
_waiters: dict[str, set[asyncio.Future]] = defaultdict(set)
_listeners: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task]" = (
    weakref.WeakKeyDictionary()
)


@cache
def _publisher() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def announce_command(device_id: str) -> None:
    """Wake any long poll of the device, in whichever process it waits."""
    if settings.REDIS_URL:
        try:
            _publisher().publish(_WAKEUP_PREFIX + device_id, b"1")
            return
        except redis.RedisError:
            logger.warning("Redis unavailable; waking only local long polls", exc_info=True)
    _wake_local(device_id)


def _wake_local(device_id: str) -> None:
    for future in list(_waiters.get(device_id, ())):
        future.get_loop().call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(True)


async def _listen(subscription: aioredis.client.PubSub) -> None:
    prefix_length = len(_WAKEUP_PREFIX)
    try:
        while True:
            message = await subscription.get_message(ignore_subscribe_messages=True, timeout=None)
            if message and message["type"] == "pmessage":
                _wake_local(message["channel"].decode()[prefix_length:])
    finally:
        await subscription.aclose()


async def _ensure_listener() -> None:
    if not settings.REDIS_URL:
        return
    loop = asyncio.get_running_loop()
    task = _listeners.get(loop)
    if task is not None and not task.done():
        return
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    subscription = client.pubsub()
    await subscription.psubscribe(_WAKEUP_PREFIX + "*")
    _listeners[loop] = loop.create_task(_listen(subscription), name="tellus-command-wakeups")


class CommandWaiter:
    """A long poll's registration; `wait` returns True when woken, False on timeout."""

    def __init__(self, device_id: str):
        self.device_id = device_id
        self._future: asyncio.Future = asyncio.get_running_loop().create_future()

    def _register(self) -> None:
        _waiters[self.device_id].add(self._future)

    def _unregister(self) -> None:
        waiting = _waiters.get(self.device_id)
        if waiting is not None:
            waiting.discard(self._future)
            if not waiting:
                _waiters.pop(self.device_id, None)

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(asyncio.shield(self._future), timeout)
        except TimeoutError:
            return False
        # Arm again for the next wake-up (the command may have been for another connector).
        self._unregister()
        self._future = asyncio.get_running_loop().create_future()
        self._register()
        return True


@asynccontextmanager
async def command_waiter(device_id: str):
    """Register before looking for a command, so one queued in between is not missed."""
    await _ensure_listener()
    waiter = CommandWaiter(device_id)
    waiter._register()
    try:
        yield waiter
    finally:
        waiter._unregister()


async def stop_listeners() -> None:
    loop = asyncio.get_running_loop()
    publisher = _publishers.pop(loop, None)
    if publisher is not None:
        await publisher.drain()
    task = _listeners.pop(loop, None)
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
