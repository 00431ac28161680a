"""POST /v1/device/charging-records."""

import pytest
from asgiref.sync import sync_to_async

from fleet.models import ChargingRecord

pytestmark = pytest.mark.django_db(transaction=True)

RECORD = {
    "record_id": "rec_9x8y7z6w",
    "connector_id": 1,
    "start_time": "2025-03-15T09:00:00Z",
    "end_time": "2025-03-15T10:30:00Z",
    "energy": 15.2,
    "max_power": 7.2,
    "avg_power": 6.8,
    "cost": 12.16,
    "meter_start": 12345.6,
    "meter_end": 12360.8,
    "vehicle_info": {"vin": "LVXFA394XJ1234567", "soc_start": 20, "soc_end": 90},
}


@sync_to_async
def records(device_id: str) -> list[ChargingRecord]:
    return list(ChargingRecord.objects.filter(device_id=device_id))


async def test_record_is_stored(charger):
    unit = await charger()
    response = await unit.post("charging-records", {**RECORD, "stop_reason": "ev_disconnected"})
    assert response.json() == {"code": 0, "message": "success", "data": None}
    (stored,) = await records(unit.device_id)
    assert (stored.record_id, stored.energy, stored.cost, stored.stop_reason) == (
        "rec_9x8y7z6w",
        15.2,
        12.16,
        "ev_disconnected",
    )
    assert stored.vehicle_info["vin"] == "LVXFA394XJ1234567"


async def test_a_retried_upload_succeeds_and_stores_nothing_new(charger):
    unit = await charger()
    assert (await unit.post("charging-records", RECORD)).status_code == 200
    again = await unit.post("charging-records", RECORD)
    assert again.status_code == 200
    assert again.json()["code"] == 0
    assert len(await records(unit.device_id)) == 1


async def test_same_record_id_with_other_content_is_409(charger):
    unit = await charger()
    await unit.post("charging-records", RECORD)
    response = await unit.post("charging-records", {**RECORD, "energy": 99.0})
    assert response.status_code == 409
    assert response.json()["code"] == 4001
    (stored,) = await records(unit.device_id)
    assert stored.energy == 15.2


async def test_record_ids_are_per_device(charger):
    first, second = await charger(), await charger()
    assert (await first.post("charging-records", RECORD)).status_code == 200
    assert (await second.post("charging-records", {**RECORD, "energy": 1.0})).status_code == 200


async def test_v2g_session_with_negative_cost(charger):
    unit = await charger()
    response = await unit.post("charging-records", {**RECORD, "cost": -4.5, "avg_power": -10.0})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"end_time": "2025-03-15T08:00:00Z"}, 1001, "end_time"),
        ({"meter_end": 100.0}, 1001, "meter_end"),
        ({"energy": -1}, 1001, "energy"),
        ({"energy": "15.2"}, 1001, "energy"),
        ({"connector_id": 0}, 1001, "connector_id"),
        ({"start_time": "15/03/2025 09:00"}, 1001, "start_time"),
        ({"vehicle_info": {"vin": "SHORT"}}, 1001, "vehicle_info.vin"),
        ({"vehicle_info": {"soc_end": 120}}, 1001, "vehicle_info.soc_end"),
        ({"record_id": ""}, 1001, "record_id"),
    ],
)
async def test_invalid_records_are_refused(charger, change, code, field):
    unit = await charger()
    response = await unit.post("charging-records", {**RECORD, **change})
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
    assert await records(unit.device_id) == []


@pytest.mark.parametrize("field", ["record_id", "start_time", "energy", "meter_end", "avg_power"])
async def test_missing_fields_are_1002(charger, field):
    unit = await charger()
    body = {k: v for k, v in RECORD.items() if k != field}
    response = await unit.post("charging-records", body)
    assert response.json()["code"] == 1002
    assert response.json()["details"] == {"field": field}
