"""Pipelined group sends for channels-redis's pub/sub layer: the one place that relies on
channels-redis internals.

The layer's own group_send takes a per-connection lock for every PUBLISH, so under ingest
load all of a process's publishes queue behind each other, one round trip each. Here
messages published while a batch is in flight go out together in the next one, in
order. The wire format is the layer's own, so its subscribers receive them unchanged.

Relied on (tested with channels-redis 4.3.0 and channels 4.3.2; the code used is the
same in 4.2.0-4.3.0, see tests/fleet/test_live_redis_adapter.py):
- `RedisPubSubChannelLayer._get_layer()` (private): the layer of the running event loop;
- `RedisPubSubLoopLayer._get_group_channel_name(group)` (private): the Redis channel a
  group's messages are PUBLISHed on (`<prefix>__group__<group>`);
- `RedisPubSubChannelLayer.serialize(message)`: the bytes group_send publishes;
- group_send being one PUBLISH of those bytes on that channel, on a single shard whose
  Redis is settings.REDIS_URL (the CHANNEL_LAYERS config in console/env.py).
"""

import asyncio
import logging
from typing import Any

import redis.asyncio as aioredis
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

from fleet.outage import REDIS_ERRORS, Breaker
from fleet.pools import PerLoop, async_redis_pool

logger = logging.getLogger(__name__)

# Shared by every live publish of the process, batched or not (fleet/live/publish.py).
live_updates = Breaker("Redis (live updates)", "live updates are dropped until it is back")


def batches(layer: Any) -> bool:
    """Whether sends on this layer can go through the batch publisher."""
    return isinstance(layer, RedisPubSubChannelLayer)


def group_channel(layer: RedisPubSubChannelLayer, group: str) -> str:
    """The Redis channel the layer publishes the group's messages on."""
    return layer._get_layer()._get_group_channel_name(group)


def payload(layer: RedisPubSubChannelLayer, message: dict[str, Any]) -> bytes:
    """The message as the layer's group_send would publish it."""
    return layer.serialize(message)


class BatchPublisher:
    """One event loop's publishes, pipelined in batches on a small connection pool."""

    def __init__(self) -> None:
        pool = async_redis_pool(settings.REDIS_URL, max_connections=4, socket_timeout=2.0)
        self._client = aioredis.Redis(connection_pool=pool)
        self._pending: list[tuple[str, bytes]] = []
        self._flushing: asyncio.Task | None = None

    def add(self, layer: RedisPubSubChannelLayer, group: str, message: dict[str, Any]) -> None:
        self._pending.append((group_channel(layer, group), payload(layer, message)))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                pipe = self._client.pipeline(transaction=False)
                for channel, data in batch:
                    pipe.publish(channel, data)
                await pipe.execute()
            except REDIS_ERRORS as error:
                live_updates.failed(error)
                logger.info("Dropped %d live messages: Redis unavailable", len(batch))
            else:
                live_updates.succeeded()

    async def drain(self) -> None:
        while self._flushing is not None and not self._flushing.done():
            await asyncio.shield(self._flushing)


_publishers = PerLoop(BatchPublisher)


def publish(layer: RedisPubSubChannelLayer, group: str, message: dict[str, Any]) -> None:
    """Queue the message for the running loop's next batch; returns at once."""
    _publishers.get().add(layer, group, message)


async def drain() -> None:
    """Send what the running loop still has queued, and forget its publisher."""
    publisher = _publishers.pop()
    if publisher is not None:
        await publisher.drain()
