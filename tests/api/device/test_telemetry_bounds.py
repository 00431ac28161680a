"""Absurd readings are refused on every transport, and nothing of them is stored; a
charger's wrong clock never costs it its liveness."""

import pytest
from asgiref.sync import sync_to_async

from fleet.models import Device, TelemetrySample
from tests.conftest import TRANSPORTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("http", TRANSPORTS, indirect=True),
]

count = sync_to_async(lambda: TelemetrySample.objects.count())


@pytest.mark.parametrize(
    ("field", "value"),
    [("temperature", 1e200), ("voltage", -1.0), ("power", 1e308), ("current", -1e9),
     ("energy_delivered", 1e300), ("soc", 2**63)],
)  # fmt: skip
async def test_an_absurd_reading_is_refused_and_not_stored(charger, field, value):
    unit = await charger()
    response = await unit.telemetry(**{field: value})
    assert response.status_code == 400, response.text
    assert (response.json()["code"], response.json()["details"]["field"]) == (1001, field)
    assert await count() == 0


async def test_a_nul_in_an_extra_field_is_refused_on_every_transport(charger):
    unit = await charger()
    response = await unit.telemetry(vendor={"note": "a\x00b"})
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == "vendor.note"
    assert await count() == 0


async def test_a_nul_in_the_long_poll_query_is_refused(charger):
    unit = await charger()
    response = await unit.http.get(
        "/v1/device/commands?connector_id=1&wait=1%00", headers=unit.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == "wait"


@pytest.mark.parametrize("connector_id", ["\u00b2", "\u0661", "1e3", "0x1", " 1"])
async def test_the_long_poll_takes_only_ascii_digits(charger, connector_id):
    unit = await charger()
    response = await unit.http.get(
        "/v1/device/commands", params={"connector_id": connector_id, "wait": 1},
        headers=unit.headers,
    )  # fmt: skip
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 1001


@pytest.mark.parametrize(
    "stamp",
    ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1970-01-01T00:00:00Z",
     "2025-06-01T12:00:00+23:59", "2099-01-01T00:00:00-16:00"],
)  # fmt: skip
async def test_a_heartbeat_keeps_a_charger_alive_whatever_its_clock_says(charger, stamp):
    unit = await charger()
    response = await unit.post(
        "heartbeat", {"timestamp": stamp, "status": "online", "fault_code": 0}
    )
    assert response.status_code == 200, response.text
    device = await sync_to_async(Device.objects.get)(device_id=unit.device_id)
    assert device.status == "online"
