"""fleet.live.redis_batch relies on channels-redis internals; these tests fail loudly when
an upgrade changes them, before live frames silently stop reaching the stream."""

import asyncio
import inspect
import uuid
from datetime import UTC, datetime

import channels_redis
import redis.asyncio as aioredis
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from django.conf import settings

from fleet.live import messages, redis_batch

UPGRADE = (
    "channels-redis {version} changed what fleet/live/redis_batch.py relies on ({what}); "
    "re-check the adapter against the new version before widening the pin in pyproject.toml"
)


def _version() -> tuple[int, ...]:
    return tuple(int(part) for part in channels_redis.__version__.split(".")[:2])


def _fail_message(what: str) -> str:
    return UPGRADE.format(version=channels_redis.__version__, what=what)


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_installed_version_is_one_the_adapter_was_checked_against():
    assert (4, 2) <= _version() < (4, 4), _fail_message("a version outside 4.2-4.3")


def test_the_private_attributes_have_the_expected_shapes():
    assert callable(getattr(RedisPubSubChannelLayer, "_get_layer", None)), _fail_message(
        "RedisPubSubChannelLayer._get_layer is gone"
    )
    assert _parameters(RedisPubSubChannelLayer._get_layer) == ["self"], _fail_message(
        "RedisPubSubChannelLayer._get_layer() takes arguments now"
    )
    name = getattr(RedisPubSubLoopLayer, "_get_group_channel_name", None)
    assert callable(name), _fail_message("RedisPubSubLoopLayer._get_group_channel_name is gone")
    assert _parameters(name) == ["self", "group"], _fail_message(
        "RedisPubSubLoopLayer._get_group_channel_name(group) has another signature"
    )
    serialize = getattr(RedisPubSubChannelLayer, "serialize", None)
    assert callable(serialize), _fail_message("RedisPubSubChannelLayer.serialize is gone")
    assert _parameters(serialize) == ["self", "message"], _fail_message(
        "RedisPubSubChannelLayer.serialize(message) has another signature"
    )


async def test_the_configured_layer_is_the_one_batched():
    layer = get_channel_layer()
    assert redis_batch.batches(layer), "the test settings should use the Redis pub/sub layer"
    group_channel = redis_batch.group_channel(layer, "device.dvc_x")
    assert isinstance(group_channel, str), _fail_message("the group channel name is not a str")
    assert group_channel.endswith("device.dvc_x"), _fail_message("the group channel naming")


def _sample(device_id: str) -> messages.TelemetrySampleMessage:
    reading = {
        "timestamp": datetime(2025, 3, 15, 11, 0, tzinfo=UTC),
        "connector_id": 1,
        "state": "charging",
        "voltage": 230.0,
        "current": 30.0,
        "power": 6.9,
        "energy_delivered": 12.3,
        "soc": 58,
        "temperature": None,
        "phase_details": None,
        "component_health": None,
        "extra": None,
    }
    return messages.telemetry_sample(device_id, reading)


async def _next_data(subscription: aioredis.client.PubSub) -> bytes:
    """The next payload on the subscription (get_message answers None for the ignored
    subscribe confirmation, so keep asking until the deadline)."""
    deadline = asyncio.get_running_loop().time() + 5
    while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
        message = await subscription.get_message(ignore_subscribe_messages=True, timeout=remaining)
        if message is not None:
            return message["data"]
    raise AssertionError("nothing was published on the group's Redis channel")


async def test_a_batched_message_reaches_the_group_as_group_send_would_deliver_it():
    layer = get_channel_layer()
    group = f"device.dvc_adapter_{uuid.uuid4().hex}"
    message = _sample(group)
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    subscription = client.pubsub()
    await subscription.subscribe(redis_batch.group_channel(layer, group))
    try:
        await layer.group_send(group, message)
        by_layer = await asyncio.wait_for(layer.receive(channel), 5)
        sent_by_layer = await _next_data(subscription)

        redis_batch.publish(layer, group, message)
        await redis_batch.drain()
        by_adapter = await asyncio.wait_for(layer.receive(channel), 5)
        sent_by_adapter = await _next_data(subscription)
    finally:
        await layer.group_discard(group, channel)
        await subscription.aclose()
        await client.aclose()
    assert sent_by_adapter == sent_by_layer, _fail_message(
        "the bytes group_send publishes (serializer or group channel)"
    )
    assert by_adapter == by_layer == message, _fail_message(
        "what a group member receives from a batched publish"
    )


async def test_a_burst_arrives_complete_and_in_order():
    layer = get_channel_layer()
    group = f"device.dvc_burst_{uuid.uuid4().hex}"
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    try:
        sent = [messages.device_status(f"dvc_{index}", "online") for index in range(50)]
        for message in sent:
            redis_batch.publish(layer, group, message)
        await redis_batch.drain()
        received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in sent]
    finally:
        await layer.group_discard(group, channel)
    assert received == sent
