"""The services that record an event or move a command tell the device's watchers
themselves, once committed: whoever calls them (the charger's route, a sweep, the
platform's own judgement), console pages and operator streams hear of it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone

from fleet.actors import Actor
from fleet.errors import Conflict
from fleet.live import messages
from fleet.live.publish import device_group
from fleet.models import Command, Device, DeviceEvent
from fleet.services import liveness
from fleet.services.commands import queue_command, report_command_status
from fleet.services.events import record_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def device(make_client, assigned_device) -> Device:
    return assigned_device(make_client()[0])


class Watcher:
    """A channel in the device's group, as a console page or an operator stream has."""

    def __init__(self, layer, channel: str):
        self.layer, self.channel = layer, channel

    async def next(self, seconds: float = 5) -> dict:
        return await asyncio.wait_for(self.layer.receive(self.channel), seconds)

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await self.next(seconds)
        except TimeoutError:
            return True
        return False


@asynccontextmanager
async def watching(device_id: str) -> AsyncIterator[Watcher]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(device_group(device_id), channel)
    try:
        yield Watcher(layer, channel)
    finally:
        await layer.group_discard(device_group(device_id), channel)


async def test_an_event_recorded_through_the_service_reaches_the_devices_watchers(device):
    async with watching(device.device_id) as watcher:
        stored = await sync_to_async(record_event)(
            device.device_id, "fault", 1, timezone.now(), {"fault_code": "F-0204"}
        )
        message = await watcher.next()
    assert message == messages.device_event(stored)
    assert (message["type"], message["event_type"], message["fault_code"]) == (
        "device.event",
        "fault",
        "F-0204",
    )


@sync_to_async
def queued_start(device: Device) -> Command:
    return queue_command(Actor.platform(), device, "start_charging", {}, connector_id=1)


async def test_a_command_status_reported_through_the_service_reaches_the_devices_watchers(
    device,
):
    command = await queued_start(device)
    async with watching(device.device_id) as watcher:
        answered = await sync_to_async(report_command_status)(
            device.device_id, command.command_id, "accepted", timezone.now()
        )
        message = await watcher.next()
    assert message == messages.command_status(answered)
    assert (message["command_id"], message["status"], message["device_status"]) == (
        command.command_id,
        "accepted",
        "accepted",
    )


async def test_a_refused_status_report_tells_nobody(device):
    command = await queued_start(device)
    await sync_to_async(report_command_status)(
        device.device_id, command.command_id, "rejected", timezone.now()
    )
    async with watching(device.device_id) as watcher:
        with pytest.raises(Conflict):
            await sync_to_async(report_command_status)(
                device.device_id, command.command_id, "completed", timezone.now()
            )
        assert await watcher.nothing_within(1)


async def test_a_fault_the_platform_derives_reaches_the_devices_watchers(device, settings):
    settings.TELLUS_OFFLINE_AFTER_SECONDS = 90
    now = timezone.now()

    @sync_to_async
    def gone_silent() -> None:
        Device.objects.filter(pk=device.pk).update(
            status="online", last_heartbeat=now - timedelta(seconds=91)
        )

    await gone_silent()
    async with watching(device.device_id) as watcher:
        assert await sync_to_async(liveness.mark_offline)(now) == [device.device_id]
        heard = [await watcher.next(), await watcher.next()]
    fault = await sync_to_async(DeviceEvent.objects.get)(device=device, fault_code="F-0301")
    assert heard == [
        messages.device_event(fault),
        messages.device_status(device.device_id, "offline"),
    ]
