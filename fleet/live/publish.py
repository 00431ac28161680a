"""Publishing device messages on the Channels layer, and command wake-ups.

Every device has a channel-layer group (`device.<device_id>`) on which the messages of
fleet.live.messages are published for the operator stream and the console. Separately,
a long poll waiting for a device's next command is woken through Redis pub/sub (one
subscription per process, fanned out in memory), or directly in memory on the embedded
default.
"""

import asyncio
import logging
import weakref
from collections import defaultdict
from contextlib import asynccontextmanager, suppress
from functools import cache

import redis
import redis.asyncio as aioredis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from fleet.live import redis_batch
from fleet.live.messages import DeviceMessage, OperatorMessage
from fleet.outage import REDIS_ERRORS, Breaker
from fleet.pools import pubsub_namespace

logger = logging.getLogger(__name__)

_REDIS_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0}
_wakeups = Breaker(
    "Redis (command wake-ups)", "long polls look for commands in the database instead"
)


def device_group(device_id: str) -> str:
    return f"device.{device_id}"


async def publish_device_message(device_id: str, message: DeviceMessage) -> None:
    """Send a message to everyone watching the device; never fails or delays the caller
    for long. On Redis the message joins the process's next pipelined batch."""
    layer = get_channel_layer()
    if layer is None or redis_batch.live_updates.skip():
        return
    try:
        if redis_batch.batches(layer):
            redis_batch.publish(layer, device_group(device_id), message)
        else:
            await layer.group_send(device_group(device_id), message)
    except REDIS_ERRORS as error:  # a live view missing frames must not fail an ingest
        redis_batch.live_updates.failed(error)
    except Exception:
        logger.warning("Could not publish %s for %s", message.get("type"), device_id, exc_info=True)


def publish_device_message_sync(device_id: str, message: DeviceMessage) -> None:
    """For sync callers (Celery tasks, the console): a plain group_send, since a batch
    would not outlive the short-lived event loop of async_to_sync."""
    layer = get_channel_layer()
    if layer is None or redis_batch.live_updates.skip():
        return
    try:
        async_to_sync(layer.group_send)(device_group(device_id), message)
    except REDIS_ERRORS as error:
        redis_batch.live_updates.failed(error)
    except Exception:
        logger.warning("Could not publish %s for %s", message.get("type"), device_id, exc_info=True)
    else:
        redis_batch.live_updates.succeeded()


def publish_device_messages_sync(batch: list[tuple[str, DeviceMessage]]) -> None:
    """Many messages at once (a control reaching every charger of a site): one trip to the
    event loop for them all; like the single publish, never fails the caller."""
    layer = get_channel_layer()
    if layer is None or not batch or redis_batch.live_updates.skip():
        return

    async def send_all() -> None:
        await asyncio.gather(
            *(layer.group_send(device_group(device_id), message) for device_id, message in batch)
        )

    try:
        async_to_sync(send_all)()
    except REDIS_ERRORS as error:
        redis_batch.live_updates.failed(error)
    except Exception:
        logger.warning("Could not publish %d device messages", len(batch), exc_info=True)
    else:
        redis_batch.live_updates.succeeded()


def operator_group(operator_id: str) -> str:
    return f"operator.{operator_id}"


def publish_operator_message_sync(operator_id: str, message: OperatorMessage) -> None:
    """Tell the operator's open console pages (fleet, alerts, firmware) that something changed; like
    the device publishes, never fails the caller."""
    layer = get_channel_layer()
    if layer is None or redis_batch.live_updates.skip():
        return
    try:
        async_to_sync(layer.group_send)(operator_group(operator_id), message)
    except REDIS_ERRORS as error:
        redis_batch.live_updates.failed(error)
    except Exception:
        logger.warning(
            "Could not publish %s for %s", message.get("type"), operator_id, exc_info=True
        )
    else:
        redis_batch.live_updates.succeeded()


# --- Command wake-ups ----------------------------------------------------------------------

# device_id -> futures of long polls waiting in this process (any event loop).
_waiters: dict[str, set[asyncio.Future]] = defaultdict(set)
_listeners: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task]" = (
    weakref.WeakKeyDictionary()
)
_starting: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]" = (
    weakref.WeakKeyDictionary()
)


def _wakeup_prefix() -> str:
    return pubsub_namespace(settings.REDIS_URL) + "command-queued:"


@cache
def _publisher() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, **_REDIS_TIMEOUTS)


def announce_command(device_id: str) -> None:
    """Wake any long poll of the device, in whichever process it waits."""
    if settings.REDIS_URL:
        try:
            _publisher().publish(_wakeup_prefix() + device_id, b"1")
            return
        except REDIS_ERRORS as error:
            # Polls in other processes find the command by polling the database.
            _wakeups.failed(error)
    _wake_local(device_id)


def _wake_local(device_id: str) -> None:
    for future in list(_waiters.get(device_id, ())):
        future.get_loop().call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(True)


async def _listen(subscription: aioredis.client.PubSub) -> None:
    prefix_length = len(_wakeup_prefix())
    try:
        while True:
            message = await subscription.get_message(ignore_subscribe_messages=True, timeout=None)
            if message and message["type"] == "pmessage":
                _wake_local(message["channel"].decode()[prefix_length:])
    except REDIS_ERRORS as error:
        _wakeups.failed(error)
        # Wake-ups from other processes stop reaching the polls now waiting: wake them
        # all, so each looks in the database and goes on polling it until Redis is back.
        for device_id in list(_waiters):
            _wake_local(device_id)
    finally:
        with suppress(*REDIS_ERRORS):
            await subscription.aclose()


async def _ensure_listener() -> bool:
    """Make sure this event loop listens for wake-ups; True when a command queued in any
    process will wake this process's long polls, False while Redis is unreachable."""
    if not settings.REDIS_URL:
        return True  # one process: wake-ups are in memory and exact
    loop = asyncio.get_running_loop()
    if _listening(loop):
        return True
    # One subscription per loop: the polls of a fleet arriving at once would otherwise
    # each subscribe, and all but the last listener would be dropped while pending.
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        if _listening(loop):
            return True
        if _wakeups.skip():
            return False
        try:
            # No read timeout: the subscription sits idle between wake-ups.
            client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1.0)
            subscription = client.pubsub()
            await subscription.psubscribe(_wakeup_prefix() + "*")
        except REDIS_ERRORS as error:
            _wakeups.failed(error)
            return False
        _wakeups.succeeded()
        _listeners[loop] = loop.create_task(_listen(subscription), name="tellus-command-wakeups")
    return True


def _listening(loop: asyncio.AbstractEventLoop) -> bool:
    task = _listeners.get(loop)
    return task is not None and not task.done()


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

    async def reachable(self) -> bool:
        """Whether a command queued anywhere will wake this waiter (see _ensure_listener)."""
        return await _ensure_listener()

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
    await redis_batch.drain()
    task = _listeners.pop(asyncio.get_running_loop(), None)
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
