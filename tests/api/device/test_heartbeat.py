"""POST /v1/device/heartbeat."""

from datetime import timedelta

import pytest
import redis
from asgiref.sync import sync_to_async

from fleet.actors import Actor
from fleet.models import ConnectivityChange, Device
from fleet.services.commands import queue_command
from tests.conftest import TRANSPORTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("http", TRANSPORTS, indirect=True),
]


async def device(device_id: str) -> Device:
    return await sync_to_async(Device.objects.get)(device_id=device_id)


async def test_heartbeat_marks_the_device_online(charger):
    unit = await charger()
    response = await unit.heartbeat()
    assert response.status_code == 200
    assert response.json() == {"code": 0, "message": "success", "data": {"commands": []}}
    stored = await device(unit.device_id)
    assert stored.status == "online"
    assert stored.last_heartbeat is not None
    assert stored.online_since == stored.last_heartbeat
    assert stored.reported_status == "online"
    assert stored.reported_fault_code == 0


async def test_claimed_fault_is_kept_apart_from_liveness(charger):
    unit = await charger()
    await unit.heartbeat(status="fault", fault_code=421)
    stored = await device(unit.device_id)
    assert (stored.status, stored.reported_status, stored.reported_fault_code) == (
        "online",
        "fault",
        421,
    )


async def test_coming_online_is_recorded_once(charger):
    unit = await charger()
    await unit.heartbeat()
    await unit.heartbeat()
    changes = await sync_to_async(list)(
        ConnectivityChange.objects.filter(device_id=unit.device_id).values_list("status", flat=True)
    )
    assert changes == ["online"]


async def test_a_heartbeat_after_a_silence_is_a_reconnect_even_before_going_offline(charger):
    """A charger that dropped off for longer than TELLUS_RECONNECT_GAP_SECONDS and came
    back inside the offline grace still counts towards a reconnect storm."""
    unit = await charger()
    await unit.heartbeat()
    first = await device(unit.device_id)
    earlier = first.last_heartbeat - timedelta(seconds=61)
    await sync_to_async(Device.objects.filter(device_id=unit.device_id).update)(
        last_heartbeat=earlier
    )
    await unit.heartbeat()
    await unit.heartbeat()  # right after: no gap
    changes = await sync_to_async(list)(
        ConnectivityChange.objects.filter(device_id=unit.device_id).values_list("status", flat=True)
    )
    assert changes == ["online", "online"]
    stored = await device(unit.device_id)
    assert stored.status == "online"
    assert stored.online_since == first.online_since  # never marked offline in between


async def test_heartbeat_hands_over_queued_commands_once(charger):
    unit = await charger()
    stored = await device(unit.device_id)
    first = await sync_to_async(queue_command)(
        Actor.platform(), stored, "start_charging", {"charge_power": 7}, connector_id=1
    )
    second = await sync_to_async(queue_command)(
        Actor.platform(), stored, "firmware_upgrade", {"url": "https://fw"}
    )

    commands = (await unit.heartbeat()).json()["data"]["commands"]
    assert [c["command_id"] for c in commands] == [first.command_id, second.command_id]
    assert commands[0]["command"] == "start_charging"
    assert commands[0]["params"] == {"charge_power": 7}
    assert commands[0]["expiry"].endswith("Z")

    assert (await unit.heartbeat()).json()["data"]["commands"] == []
    assert (await unit.poll(wait=1)).json()["data"] is None


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"status": "online", "fault_code": 0}, 1002, "timestamp"),
        ({"timestamp": "2025-03-15T11:00:00Z", "fault_code": 0}, 1002, "status"),
        ({"timestamp": "2025-03-15T11:00:00Z", "status": "online"}, 1002, "fault_code"),
        (
            {"timestamp": "2025-03-15T11:00:00Z", "status": "sleeping", "fault_code": 0},
            1001,
            "status",
        ),
        (
            {"timestamp": "2025-03-15T11:00:00", "status": "online", "fault_code": 0},
            1001,
            "timestamp",
        ),
        ({"timestamp": 1742036400, "status": "online", "fault_code": 0}, 1001, "timestamp"),
        (
            {"timestamp": "2025-03-15T11:00:00Z", "status": "online", "fault_code": "0"},
            1001,
            "fault_code",
        ),
        (
            {"timestamp": "2025-03-15T11:00:00Z", "status": "online", "fault_code": -1},
            1001,
            "fault_code",
        ),
    ],
)
async def test_invalid_heartbeats_change_nothing(charger, body, code, field):
    unit = await charger()
    response = await unit.post("heartbeat", body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
    assert (await device(unit.device_id)).last_heartbeat is None


async def test_heartbeat_needs_a_device_token(http, make_client, operator_token):
    token = await sync_to_async(lambda: operator_token(*make_client()))()
    body = {"timestamp": "2025-03-15T11:00:00Z", "status": "online", "fault_code": 0}
    for headers in ({}, {"Authorization": f"Bearer {token}"}, {"Authorization": "Bearer x.y.z"}):
        response = await http.post("/v1/device/heartbeat", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == 2001


async def test_a_deleted_device_loses_its_token(charger):
    unit = await charger()
    assert (await unit.heartbeat()).status_code == 200
    await sync_to_async(lambda: Device.objects.get(device_id=unit.device_id).delete())()
    response = await unit.heartbeat()
    assert response.status_code == 401
    assert response.json()["code"] == 2001


async def test_a_redis_failure_the_route_cannot_do_without_is_9001_with_the_reason(
    charger, monkeypatch
):
    unit = await charger()

    async def unreachable(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 10.0.0.7:6379. Connection refused.")

    monkeypatch.setattr("api.device.endpoints.heartbeat", unreachable)
    response = await unit.heartbeat()
    assert response.status_code == 500
    body = response.json()
    assert (body["code"], body["message"]) == (
        9001,
        "A platform dependency (Redis) is unavailable; retry with backoff",
    )
