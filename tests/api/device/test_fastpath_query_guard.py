"""Regression (found by fuzzing): the charger fast path let a NUL through in the query
string of heartbeat and telemetry, which the Django routes refuse (api.input_guard).

Both transports must answer alike: 400/1001 naming the parameter, before
authentication (as the middleware does), and nothing stored.
"""

import pytest
from asgiref.sync import sync_to_async

from fleet.models import TelemetrySample
from tests.conftest import TRANSPORTS, now_iso

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.parametrize("http", TRANSPORTS, indirect=True),
]

TELEMETRY = {
    "connector_id": 1,
    "state": "charging",
    "voltage": 230.0,
    "current": 16.0,
    "power": 3.7,
    "energy_delivered": 1.2,
}


@pytest.mark.parametrize("query", ["x=%00", "x=a%00b", "%00=1", "connector_id=1&note=%00"])
@pytest.mark.parametrize("path", ["heartbeat", "telemetry"])
async def test_nul_in_the_query_is_refused_and_nothing_stored(http, charger, path, query):
    unit = await charger()
    body = (
        {"timestamp": now_iso(), "status": "online", "fault_code": 0}
        if path == "heartbeat"
        else {"timestamp": now_iso(), **TELEMETRY}
    )
    response = await http.post(f"/v1/device/{path}?{query}", json=body, headers=unit.headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 1001
    assert await sync_to_async(TelemetrySample.objects.count)() == 0


@pytest.mark.parametrize("path", ["heartbeat", "telemetry"])
async def test_nul_in_the_query_is_refused_before_authentication(http, path):
    response = await http.post(f"/v1/device/{path}?x=%00", json={})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 1001


async def test_the_long_poll_refuses_a_nul_before_authentication(http):
    response = await http.get("/v1/device/commands?connector_id=1&wait=1&x=%00")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 1001
