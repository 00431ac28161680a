"""Strings and keys inside free-form objects are bounded (api.input_guard): event data,
telemetry extras and blocks, record vehicle_info and details, command params. A string
of MAX_JSON_STRING characters or a key of MAX_JSON_KEY is kept; one more character is
1001 naming the field, without echoing the value, and nothing is stored."""

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from api.input_guard import MAX_JSON_KEY, MAX_JSON_STRING, check_form, check_value
from fleet.errors import InvalidParameter
from fleet.models import ChargingRecord, Command, Connector, DeviceEvent, TelemetrySample
from tests.conftest import now_iso

RECORD = {
    "record_id": "rec_bounds",
    "connector_id": 1,
    "start_time": "2025-03-15T09:00:00Z",
    "end_time": "2025-03-15T10:30:00Z",
    "energy": 15.2,
    "max_power": 7.2,
    "avg_power": 6.8,
    "meter_start": 12345.6,
    "meter_end": 12360.8,
}


def telemetry(**fields: Any) -> dict[str, Any]:
    return {
        "timestamp": now_iso(),
        "connector_id": 1,
        "state": "charging",
        "voltage": 230.0,
        "current": 16.0,
        "power": 3.7,
        "energy_delivered": 1.2,
        **fields,
    }


def event(data: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": now_iso(), "event_type": "vendor_note", "connector_id": 1, "data": data}


# Where a free-form string goes: (route, body with the string, dotted field, stored rows).
PLACES = {
    "event data": ("events", lambda s: event({"note": s}), "data.note", DeviceEvent),
    "event data, in a list": (
        "events",
        lambda s: event({"log": [{"line": s}]}),
        "data.log[0].line",
        DeviceEvent,
    ),
    "telemetry extra field": (
        "telemetry",
        lambda s: telemetry(vendor_status=s),
        "vendor_status",
        TelemetrySample,
    ),
    "telemetry component_health": (
        "telemetry",
        lambda s: telemetry(component_health={"vendor_note": s}),
        "component_health.vendor_note",
        TelemetrySample,
    ),
    "telemetry phase_details": (
        "telemetry",
        lambda s: telemetry(
            phase_details={"phase_a": {"voltage": 230.0, "current": 16.0, "label": s}}
        ),
        "phase_details.phase_a.label",
        TelemetrySample,
    ),
    "record vehicle_info": (
        "charging-records",
        lambda s: {**RECORD, "vehicle_info": {"brand": s}},
        "vehicle_info.brand",
        ChargingRecord,
    ),
    "record details": (
        "charging-records",
        lambda s: {**RECORD, "details": {"tariff": s}},
        "details.tariff",
        ChargingRecord,
    ),
}


@sync_to_async
def rows(model, device_id: str) -> int:
    return model.objects.filter(device_id=device_id).count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("http", ["fastpath", "django"], indirect=True)
@pytest.mark.parametrize("place", list(PLACES))
async def test_a_free_form_string_over_the_limit_is_refused_and_at_the_limit_kept(
    charger, http, place
):
    route, body_with, field, model = PLACES[place]
    unit = await charger()
    refused = await unit.post(route, body_with("x" * (MAX_JSON_STRING + 1)))
    assert refused.status_code == 400, refused.text
    assert refused.json() == {
        "code": 1001,
        "message": f"Parameter '{field}' is longer than {MAX_JSON_STRING} characters",
        "data": None,
        "details": {
            "field": field,
            "value": None,
            "reason": "too_long",
            "max_length": MAX_JSON_STRING,
        },
    }
    assert await rows(model, unit.device_id) == 0
    kept = await unit.post(route, body_with("x" * MAX_JSON_STRING))
    assert kept.status_code == 200, kept.text
    assert await rows(model, unit.device_id) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_free_form_key_over_the_limit_is_refused_and_at_the_limit_kept(charger):
    unit = await charger()
    refused = await unit.post("events", event({"k" * (MAX_JSON_KEY + 1): 1}))
    assert refused.status_code == 400, refused.text
    assert refused.json()["details"] == {
        "field": "data",
        "value": None,
        "reason": "key_too_long",
        "max_length": MAX_JSON_KEY,
    }
    assert await rows(DeviceEvent, unit.device_id) == 0
    kept = await unit.post("events", event({"k" * MAX_JSON_KEY: 1}))
    assert kept.status_code == 200, kept.text
    stored = await sync_to_async(DeviceEvent.objects.get)(device_id=unit.device_id)
    assert list(stored.data) == ["k" * MAX_JSON_KEY]


@pytest.mark.django_db
@pytest.mark.parametrize("length", [MAX_JSON_STRING, MAX_JSON_STRING + 1])
def test_operator_command_params_are_bounded_the_same_way(
    api, make_client, operator_token, assigned_device, length
):
    client, secret = make_client()
    device = assigned_device(client)
    Connector.objects.create(device=device, connector_id=1)
    response = api.client.post(
        f"/v1/operator/devices/{device.device_id}/diagnostic-commands",
        json.dumps({"command": "fetch_logs", "params": {"upload_url": "x" * length}}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {operator_token(client, secret)}",
    )
    if length == MAX_JSON_STRING:
        assert response.status_code == 200, response.content
        assert Command.objects.get().params["upload_url"] == "x" * length
        return
    assert response.status_code == 400
    assert response.json()["details"]["field"] == "params.upload_url"
    assert not Command.objects.exists()


def test_the_rule_itself():
    check_value({"a" * MAX_JSON_KEY: ["b" * MAX_JSON_STRING]})
    with pytest.raises(InvalidParameter) as long_string:
        check_value({"a": ["b" * (MAX_JSON_STRING + 1)]})
    assert long_string.value.details["field"] == "a[0]"
    with pytest.raises(InvalidParameter) as long_key:
        check_value({"a": {"b" * (MAX_JSON_KEY + 1): 1}})
    assert long_key.value.details == {
        "field": "a",
        "value": None,
        "reason": "key_too_long",
        "max_length": MAX_JSON_KEY,
    }
    # The token endpoints' form bodies too.
    check_form({"client_secret": "s" * MAX_JSON_STRING})
    with pytest.raises(InvalidParameter):
        check_form({"client_secret": "s" * (MAX_JSON_STRING + 1)})
