"""POST /v1/device/firmware/status."""

import pytest
from asgiref.sync import sync_to_async

from fleet.models import Device, FirmwareUpdate

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def state(device_id: str) -> tuple[str, list[tuple[str, str, int | None]]]:
    device = Device.objects.get(device_id=device_id)
    updates = FirmwareUpdate.objects.filter(device=device).order_by("created_at", "id")
    return device.firmware_version, [(u.firmware_version, u.status, u.progress) for u in updates]


async def test_progress_then_success_updates_the_device(charger):
    unit = await charger(firmware_version="3.0.1")
    for body in (
        {"firmware_version": "3.1.0", "status": "downloading", "progress": 40},
        {"firmware_version": "3.1.0", "status": "upgrading", "progress": 80},
    ):
        assert (await unit.post("firmware/status", body)).json()["code"] == 0
    assert await state(unit.device_id) == ("3.0.1", [("3.1.0", "upgrading", 80)])
    await unit.post("firmware/status", {"firmware_version": "3.1.0", "status": "success"})
    assert await state(unit.device_id) == ("3.1.0", [("3.1.0", "success", 100)])


async def test_failure_keeps_the_running_version_and_a_retry_is_a_new_attempt(charger):
    unit = await charger(firmware_version="3.0.1")
    failed = {"firmware_version": "3.1.0", "status": "failed", "message": "checksum mismatch"}
    await unit.post("firmware/status", failed)
    await unit.post(
        "firmware/status", {"firmware_version": "3.1.0", "status": "downloading", "progress": 5}
    )
    version, updates = await state(unit.device_id)
    assert version == "3.0.1"
    assert updates == [("3.1.0", "failed", None), ("3.1.0", "downloading", 5)]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"status": "success"}, 1002, "firmware_version"),
        ({"firmware_version": "3.1.0"}, 1002, "status"),
        ({"firmware_version": "3.1.0", "status": "installing"}, 1001, "status"),
        ({"firmware_version": "3.1.0", "status": "downloading", "progress": 101}, 1001, "progress"),
    ],
)
async def test_invalid_reports_are_refused(charger, body, code, field):
    unit = await charger()
    response = await unit.post("firmware/status", body)
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
    assert (await state(unit.device_id))[1] == []
