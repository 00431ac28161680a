"""POST /v1/device/telemetry."""

import asyncio
from datetime import datetime

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from fleet.live.publish import device_group
from fleet.models import Connector, TelemetrySample
from tests.conftest import TRANSPORTS, now_iso

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("http", TRANSPORTS, indirect=True),
]


@sync_to_async
def samples(device_id: str) -> list[TelemetrySample]:
    return list(TelemetrySample.objects.filter(device_id=device_id).order_by("timestamp"))


@sync_to_async
def connector(device_id: str, connector_id: int = 1) -> Connector:
    return Connector.objects.get(device_id=device_id, connector_id=connector_id)


async def test_sample_is_stored_and_becomes_the_connector_snapshot(charger):
    unit = await charger()
    response = await unit.telemetry(
        timestamp="2025-03-15T11:00:00Z",
        connector_id=2,
        state="charging",
        voltage=223.0,
        current=30.5,
        power=6.8,
        energy_delivered=12.3,
        soc=55,
        temperature=38.0,
    )
    assert response.status_code == 200
    assert response.json() == {"code": 0, "message": "success", "data": None}
    (sample,) = await samples(unit.device_id)
    assert (sample.connector_id, sample.state, sample.power, sample.soc) == (2, "charging", 6.8, 55)
    live = await connector(unit.device_id, 2)
    assert (live.state, live.power, live.voltage, live.current) == ("charging", 6.8, 223.0, 30.5)
    assert (live.energy_delivered, live.soc, live.temperature) == (12.3, 55, 38.0)
    assert live.last_telemetry_time.isoformat() == "2025-03-15T11:00:00+00:00"


async def test_a_late_older_sample_is_history_not_the_live_state(charger):
    unit = await charger()
    await unit.telemetry(timestamp="2025-03-15T11:00:10Z", power=7.0)
    await unit.telemetry(timestamp="2025-03-15T11:00:05Z", power=3.0)
    assert len(await samples(unit.device_id)) == 2
    assert (await connector(unit.device_id)).power == 7.0


async def test_preparing_three_phase_health_and_unknown_fields_are_kept(charger):
    unit = await charger()
    response = await unit.telemetry(
        state="preparing",
        phase_details={
            "phase_a": {"voltage": 230.1, "current": 16.0},
            "phase_b": {"voltage": 229.8, "current": 15.9},
            "phase_c": {"voltage": 230.4, "current": 16.1},
        },
        component_health={
            "contactor_cycles": 41250,
            "cooling_fan_rpm": 1780,
            "cooling_fan_status": "ok",
            "internal_temps": {"power_module": 48.5, "control_board": 39.0},
            "relay_state": "closed",
            "isolation_test_kohms": 2200,
            "last_isolation_test": "2025-03-15T06:00:00Z",
        },
        inverter_sync_status="synced",
    )
    assert response.status_code == 200, response.text
    (sample,) = await samples(unit.device_id)
    assert sample.state == "preparing"
    assert sample.phase_details["phase_b"] == {"voltage": 229.8, "current": 15.9}
    assert sample.component_health["cooling_fan_rpm"] == 1780
    assert sample.component_health["internal_temps"]["power_module"] == 48.5
    assert sample.extra == {"inverter_sync_status": "synced"}
    assert (await connector(unit.device_id)).state == "preparing"


async def test_discharging_power_is_negative(charger):
    unit = await charger()
    assert (
        await unit.telemetry(state="discharging", power=-11.0, current=-16.0)
    ).status_code == 200
    assert (await connector(unit.device_id)).power == -11.0


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"state": "sleeping"}, 1001, "state"),
        ({"state": "unavailable"}, 1001, "state"),
        ({"soc": 101}, 1001, "soc"),
        ({"soc": -1}, 1001, "soc"),
        ({"soc": 50.5}, 1001, "soc"),
        ({"connector_id": 0}, 1001, "connector_id"),
        ({"connector_id": "1"}, 1001, "connector_id"),
        ({"voltage": "230"}, 1001, "voltage"),
        ({"voltage": -1}, 1001, "voltage"),
        ({"power": True}, 1001, "power"),
        ({"timestamp": "yesterday"}, 1001, "timestamp"),
        ({"timestamp": "2025-03-15T11:00:00"}, 1001, "timestamp"),
        ({"phase_details": {"phase_a": {"voltage": 230}}}, 1002, "phase_details.phase_a.current"),
        (
            {"component_health": {"cooling_fan_status": "loud"}},
            1001,
            "component_health.cooling_fan_status",
        ),
    ],
)
async def test_invalid_samples_are_refused_and_nothing_is_stored(charger, fields, code, field):
    unit = await charger()
    response = await unit.telemetry(**fields)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
    assert await samples(unit.device_id) == []


async def test_missing_required_field_is_1002(charger):
    unit = await charger()
    body = {"timestamp": now_iso(), "connector_id": 1, "state": "idle", "voltage": 0, "current": 0}
    response = await unit.post("telemetry", body)
    assert response.json()["code"] == 1002
    assert response.json()["details"] == {"field": "power"}


async def test_non_finite_numbers_are_refused(charger):
    unit = await charger()
    raw = (
        f'{{"timestamp": "{now_iso()}", "connector_id": 1, "state": "idle", "voltage": NaN, '
        '"current": 0, "power": 0, "energy_delivered": 0}'
    )
    response = await unit.http.post(
        "/v1/device/telemetry",
        content=raw,
        headers={**unit.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == 1001
    assert await samples(unit.device_id) == []


async def test_samples_from_the_future_beyond_the_skew_are_refused(charger, settings):
    settings.TELLUS_CLOCK_SKEW_SECONDS = 60
    unit = await charger()
    assert (await unit.telemetry(timestamp=now_iso(30))).status_code == 200
    response = await unit.telemetry(timestamp=now_iso(600))
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "timestamp"
    assert len(await samples(unit.device_id)) == 1


async def test_each_sample_is_published_to_the_device_group(charger):
    unit = await charger()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(device_group(unit.device_id), channel)
    timestamp = now_iso()
    try:
        await unit.telemetry(timestamp=timestamp, connector_id=1, power=6.9, soc=58)
        message = await asyncio.wait_for(layer.receive(channel), 5)
    finally:
        await layer.group_discard(device_group(unit.device_id), channel)
    assert message == {
        "type": "telemetry.sample",
        "device_id": unit.device_id,
        "timestamp": datetime.fromisoformat(timestamp).isoformat(),
        "connector": {
            "connector_id": 1,
            "state": "charging",
            "voltage": 230.0,
            "current": 16.0,
            "power": 6.9,
            "energy_delivered": 1.2,
            "soc": 58,
            "temperature": None,
        },
    }


async def test_body_must_be_json(charger):
    unit = await charger()
    response = await unit.http.post(
        "/v1/device/telemetry",
        content=b"voltage=230",
        headers={**unit.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "Content-Type"
    broken = await unit.http.post(
        "/v1/device/telemetry",
        content=b'{"timestamp": ',
        headers={**unit.headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert broken.json()["details"]["field"] == "body"


async def test_oversized_body_is_refused(charger, settings):
    unit = await charger()
    settings.TELLUS_MAX_BODY_BYTES = 1024
    response = await unit.telemetry(padding="x" * 2000)
    assert response.status_code == 400
    assert response.json()["details"]["reason"] == "too_large"
