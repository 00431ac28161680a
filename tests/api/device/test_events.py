"""POST /v1/device/events."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from fleet.live import messages
from fleet.live.publish import device_group
from fleet.models import Connector, DeviceEvent
from tests.conftest import now_iso

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def events(device_id: str) -> list[DeviceEvent]:
    return list(DeviceEvent.objects.filter(device_id=device_id).order_by("id"))


@sync_to_async
def connector_state(device_id: str, connector_id: int = 1) -> str:
    return Connector.objects.get(device_id=device_id, connector_id=connector_id).state


def event(event_type: str, connector_id: int = 1, **data) -> dict:
    return {
        "timestamp": now_iso(),
        "event_type": event_type,
        "connector_id": connector_id,
        "data": data,
    }


async def test_fault_with_integer_and_string_codes(charger):
    unit = await charger()
    first = await unit.post("events", event("fault", fault_code=1001, fault_message="Overcurrent"))
    second = await unit.post("events", event("fault", fault_code="F-0421", details={"phase": "b"}))
    assert first.json() == {"code": 0, "message": "success", "data": None}
    assert second.status_code == 200
    stored = await events(unit.device_id)
    assert [e.fault_code for e in stored] == ["1001", "F-0421"]
    assert stored[0].data["fault_code"] == 1001  # the value as sent
    assert stored[1].data == {"fault_code": "F-0421", "details": {"phase": "b"}}
    assert all(e.source == "charger" for e in stored)


async def test_events_move_the_connector_state(charger):
    unit = await charger()
    expected = [
        ("plug_in", "preparing"),
        ("start", "charging"),
        ("fault", "fault"),
        ("stop", "idle"),
        ("plug_out", "idle"),
    ]
    for event_type, state in expected:
        assert (await unit.post("events", event(event_type))).status_code == 200
        assert await connector_state(unit.device_id) == state


async def test_unknown_event_types_are_stored(charger):
    unit = await charger()
    response = await unit.post("events", event("auth_ok", id_tag="04A2B3C4"))
    assert response.status_code == 200
    (stored,) = await events(unit.device_id)
    assert stored.event_type == "auth_ok"


async def test_connector_zero_is_the_whole_device(charger):
    unit = await charger()
    assert (
        await unit.post("events", event("fault", connector_id=0, fault_code="F-0601"))
    ).status_code == 200
    (stored,) = await events(unit.device_id)
    assert stored.connector_id == 0
    assert not await sync_to_async(Connector.objects.filter(device_id=unit.device_id).exists)()


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"event_type": "fault", "connector_id": 1, "data": {}}, 1002, "timestamp"),
        ({"timestamp": "2025-03-15T11:00:00Z", "connector_id": 1, "data": {}}, 1002, "event_type"),
        (
            {"timestamp": "2025-03-15T11:00:00Z", "event_type": "fault", "data": {}},
            1002,
            "connector_id",
        ),
        (
            {"timestamp": "2025-03-15T11:00:00Z", "event_type": "fault", "connector_id": 1},
            1002,
            "data",
        ),
        (
            {
                "timestamp": "2025-03-15T11:00:00Z",
                "event_type": "Fault!",
                "connector_id": 1,
                "data": {},
            },
            1001,
            "event_type",
        ),
        (
            {
                "timestamp": "2025-03-15T11:00:00Z",
                "event_type": "fault",
                "connector_id": -1,
                "data": {},
            },
            1001,
            "connector_id",
        ),
        (
            {
                "timestamp": "2025-03-15T11:00:00Z",
                "event_type": "fault",
                "connector_id": 1,
                "data": [],
            },
            1001,
            "data",
        ),
        (
            {
                "timestamp": "2025-03-15T11:00:00Z",
                "event_type": "fault",
                "connector_id": 1,
                "data": {"fault_code": 4.2},
            },
            1001,
            "data.fault_code",
        ),
        (
            {
                "timestamp": "2025-03-15T11:00:00Z",
                "event_type": "fault",
                "connector_id": 1,
                "data": {"fault_code": True},
            },
            1001,
            "data.fault_code",
        ),
    ],
)
async def test_invalid_events_store_nothing(charger, body, code, field):
    unit = await charger()
    response = await unit.post("events", body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
    assert await events(unit.device_id) == []


async def test_events_are_published_to_the_device_group(charger):
    unit = await charger()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(device_group(unit.device_id), channel)
    try:
        await unit.post("events", event("fault", fault_code="F-0204"))
        message = await asyncio.wait_for(layer.receive(channel), 5)
    finally:
        await layer.group_discard(device_group(unit.device_id), channel)
    (stored,) = await events(unit.device_id)
    assert message == messages.device_event(stored)
    assert (message["type"], message["event_type"], message["fault_code"]) == (
        "device.event",
        "fault",
        "F-0204",
    )
