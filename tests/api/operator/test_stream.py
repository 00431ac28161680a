"""The operator telemetry stream (WebSocket)."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from api.stream import TelemetryStreamConsumer
from fleet.actors import Actor
from fleet.live import messages
from fleet.live.messages import DEVICE_MESSAGE_TYPES
from fleet.live.publish import publish_device_message
from fleet.models import Command, Connector, DeviceEvent
from fleet.services.provisioning import assign_device
from tests import factories
from tests.spec import assert_matches, component

pytestmark = pytest.mark.django_db(transaction=True)


def stream(devices: str, token: str | None = None, header: bool = True) -> WebsocketCommunicator:
    from console.asgi import application

    path = f"/v1/operator/stream?devices={devices}"
    headers = []
    if token and header:
        headers = [(b"authorization", f"Bearer {token}".encode())]
    elif token:
        path += f"&token={token}"
    return WebsocketCommunicator(application, path, headers=headers)


async def frames(communicator: WebsocketCommunicator, seconds: float) -> list[dict]:
    found = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        try:
            # Read the queue directly: receive_output's own timeout cancels the application.
            message = await asyncio.wait_for(communicator.output_queue.get(), remaining)
        except TimeoutError:
            break
        if message["type"] == "websocket.send":
            found.append(json.loads(message["text"]))
        elif message["type"] == "websocket.close":
            found.append({"closed": message.get("code"), "reason": message.get("reason")})
            break
    return found


async def closed_with(communicator: WebsocketCommunicator) -> tuple[int, str]:
    connected, _ = await communicator.connect()
    assert connected
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    await communicator.disconnect()
    return message["code"], message.get("reason", "")


@pytest.fixture
def operator(db):
    """`await operator()`: a new API client of Acme's, its token, and a new site of Acme's."""

    @sync_to_async
    def make(scopes=("read",)):
        account = factories.OperatorAccount.create(factories.ACME, list(scopes))
        return account.client, account.token, factories.site(account.client)

    return make


@pytest.fixture
def placed(charger):
    async def make(site):
        unit = await charger()
        await sync_to_async(assign_device)(Actor.platform(), unit.device_id, site.site_id)
        return unit

    return make


async def test_header_auth_and_a_frame_per_device_at_once(http, operator, placed):
    _, token, site = await operator()
    unit = await placed(site)
    await sync_to_async(Connector.objects.create)(
        device_id=unit.device_id,
        connector_id=1,
        state="charging",
        power=6.9,
        energy_delivered=13.1,
        soc=58,
    )
    communicator = stream(unit.device_id, token)
    connected, _ = await communicator.connect()
    assert connected
    (frame,) = await frames(communicator, 1)
    assert frame["device_id"] == unit.device_id
    assert frame["connectors"] == [
        {"connector_id": 1, "state": "charging", "power": 6.9, "energy_delivered": 13.1, "soc": 58}
    ]
    assert_matches(frame, component("TelemetryFrame"))
    await communicator.disconnect()


async def test_query_token_auth_and_fresh_telemetry_arrives(http, operator, placed, settings):
    settings.TELLUS_STREAM_MIN_INTERVAL_SECONDS = 0.05
    _, token, site = await operator()
    unit = await placed(site)
    communicator = stream(unit.device_id, token, header=False)
    assert (await communicator.connect())[0]
    assert len(await frames(communicator, 0.5)) == 1  # the initial frame
    assert (
        await unit.telemetry(connector_id=1, state="charging", power=7.4, soc=61)
    ).status_code == 200
    (frame,) = await frames(communicator, 3)
    assert frame["connectors"][0]["power"] == 7.4
    assert frame["connectors"][0]["soc"] == 61
    await communicator.disconnect()


async def test_idle_devices_get_a_frame_each_cadence(http, operator, placed, settings):
    settings.TELLUS_STREAM_CADENCE_SECONDS = 1
    _, token, site = await operator()
    first, second = await placed(site), await placed(site)
    communicator = stream(f"{first.device_id},{second.device_id}", token)
    assert (await communicator.connect())[0]
    received = await frames(communicator, 2.6)
    per_device = {
        d: sum(1 for f in received if f["device_id"] == d)
        for d in (first.device_id, second.device_id)
    }
    assert all(3 <= count <= 4 for count in per_device.values()), per_device
    await communicator.disconnect()


async def test_bursts_are_coalesced(http, operator, placed, settings):
    settings.TELLUS_STREAM_MIN_INTERVAL_SECONDS = 1.0
    _, token, site = await operator()
    unit = await placed(site)
    communicator = stream(unit.device_id, token)
    assert (await communicator.connect())[0]
    await frames(communicator, 0.2)
    for power in (1.0, 2.0, 3.0, 4.0, 5.0):
        await unit.telemetry(power=power)
    received = await frames(communicator, 2.0)
    assert 1 <= len(received) <= 2
    assert received[-1]["connectors"][0]["power"] == 5.0
    await communicator.disconnect()


async def test_refusals_close_with_a_code_and_reason(http, operator, placed, make_client, site_for):
    _, token, site = await operator()
    unit = await placed(site)
    _, writer, _ = await operator(scopes=("write",))
    rival_site = await sync_to_async(lambda: site_for(make_client("Rival")[0]))()
    foreign = await placed(rival_site)
    cases = [
        (stream(unit.device_id), 4401),
        (stream(unit.device_id, "not-a-token"), 4401),
        (stream(unit.device_id, writer), 4403),
        (stream("", token), 4400),
        (stream(foreign.device_id, token), 4404),
        (stream(f"{unit.device_id},dvc_000000000000", token), 4404),
        (stream(unit.device_id, unit.token), 4401),  # a device token
    ]
    for communicator, code in cases:
        closed, reason = await closed_with(communicator)
        assert closed == code
        assert reason


async def test_a_second_identical_connection_replaces_the_first(http, operator, placed):
    _, token, site = await operator()
    first_unit, second_unit = await placed(site), await placed(site)
    devices = f"{first_unit.device_id},{second_unit.device_id}"
    older = stream(devices, token)
    assert (await older.connect())[0]
    await frames(older, 0.3)
    newer = stream(f"{second_unit.device_id},{first_unit.device_id}", token)  # same set
    assert (await newer.connect())[0]
    assert (await frames(older, 3))[-1]["closed"] == 4409
    assert await frames(newer, 0.5)  # the newer one keeps streaming
    await newer.disconnect()


async def test_the_stream_closes_when_the_token_expires(http, operator, placed, settings):
    settings.TELLUS_TOKEN_TTL_SECONDS = 2
    _, token, site = await operator()
    unit = await placed(site)
    communicator = stream(unit.device_id, token)
    assert (await communicator.connect())[0]
    received = await frames(communicator, 5)
    assert received[-1]["closed"] == 4401
    assert "expired" in received[-1]["reason"]


def test_the_consumer_handles_every_device_message_type():
    """A type without a handler would end every stream of the device with an error."""
    for message_type in DEVICE_MESSAGE_TYPES:
        handler = get_handler_name({"type": message_type})
        assert callable(getattr(TelemetryStreamConsumer, handler, None)), message_type


async def test_other_device_messages_send_no_frame(http, operator, placed, settings):
    settings.TELLUS_STREAM_MIN_INTERVAL_SECONDS = 0.05
    _, token, site = await operator()
    unit = await placed(site)
    communicator = stream(unit.device_id, token)
    assert (await communicator.connect())[0]
    assert len(await frames(communicator, 0.5)) == 1  # the initial frame
    now = timezone.now()
    command = Command(command_id="cmd_x", command="reboot", status="failed", device_status="")
    event = DeviceEvent(
        pk=1, device_id=unit.device_id, connector_id=1, event_type="stop", timestamp=now, data={}
    )
    for message in (
        messages.device_status(unit.device_id, "offline"),
        messages.command_status(command, "expired"),
        messages.device_event(event),
    ):
        await publish_device_message(unit.device_id, message)
    assert await frames(communicator, 1) == []
    assert (await unit.telemetry(power=7.4)).status_code == 200  # and the stream lives on
    (frame,) = await frames(communicator, 3)
    assert frame["connectors"][0]["power"] == 7.4
    await communicator.disconnect()
