"""Absurd readings are refused on every transport, and nothing of them is stored."""

import pytest
from asgiref.sync import sync_to_async

from fleet.models import TelemetrySample
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
