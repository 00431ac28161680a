"""Remote start, stop, discharge and schedules (scope `write`)."""

import pytest

from fleet.models import Command, Connector, Schedule
from tests.spec import assert_matches, response_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def charger_on_site(acme, assigned_device):
    device = assigned_device(acme[0])
    Connector.objects.create(device=device, connector_id=1, state="idle")
    Connector.objects.create(device=device, connector_id=2, state="idle")
    return device


def url(device, action: str, connector_id: int = 1) -> str:
    return f"/v1/operator/devices/{device.device_id}/connectors/{connector_id}/{action}"


def test_start_queues_a_command_for_the_charger(api, acme, charger_on_site):
    body = {"charge_power": 7.0, "duration": 3600, "target_soc": 80, "transaction_id": "txn_1"}
    response = api.post(url(charger_on_site, "start"), body, acme[1])
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["status"] == "queued"
    assert_matches(
        response.json(),
        response_schema("post", "/operator/devices/{device_id}/connectors/{connector_id}/start"),
    )
    command = Command.objects.get(command_id=data["command_id"])
    assert (command.command, command.connector_id, command.params) == ("start_charging", 1, body)
    assert command.issued_by_client_id == acme[0].client_id
    assert command.operator_id == acme[0].operator_id
    assert command.issued_from == "127.0.0.1"
    status = api.get(f"/v1/operator/commands/{command.command_id}", acme[1]).json()["data"]
    assert status["status"] == "queued"


def test_start_without_a_body(api, acme, charger_on_site):
    # What `curl -X POST` with no data sends: no body, no content type.
    response = api.client.generic(
        "POST", url(charger_on_site, "start"), b"", HTTP_AUTHORIZATION=f"Bearer {acme[1]}"
    )
    assert response.status_code == 200, response.content
    assert Command.objects.get().params == {}


def test_second_start_while_one_is_queued_is_409(api, acme, charger_on_site):
    assert api.post(url(charger_on_site, "start"), {}, acme[1]).status_code == 200
    again = api.post(url(charger_on_site, "start"), {}, acme[1])
    assert again.status_code == 409
    assert again.json()["code"] == 4001
    assert api.post(url(charger_on_site, "start", 2), {}, acme[1]).status_code == 200
    assert Command.objects.count() == 2


def test_stop_with_reason(api, acme, charger_on_site):
    response = api.post(url(charger_on_site, "stop"), {"reason": "user_request"}, acme[1])
    assert response.status_code == 200
    command = Command.objects.get()
    assert (command.command, command.params) == ("stop_charging", {"reason": "user_request"})


def test_discharge_needs_v2g_hardware(api, acme, charger_on_site):
    body = {"discharge_power": 11.0, "duration": 1800, "min_soc": 40}
    refused = api.post(url(charger_on_site, "discharge"), body, acme[1])
    assert refused.status_code == 400
    assert refused.json()["code"] == 1001
    assert refused.json()["details"]["field"] == "device_id"
    charger_on_site.v2g_capable = True
    charger_on_site.save()
    accepted = api.post(url(charger_on_site, "discharge"), body, acme[1])
    assert accepted.status_code == 200
    assert Command.objects.get().params == body


def test_discharge_power_is_required(api, acme, charger_on_site):
    response = api.post(url(charger_on_site, "discharge"), {"duration": 60}, acme[1])
    assert response.json()["code"] == 1002
    assert response.json()["details"] == {"field": "discharge_power"}


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("start", {"charge_power": -1}, "charge_power"),
        ("start", {"target_soc": 120}, "target_soc"),
        ("start", {"duration": "1h"}, "duration"),
        ("stop", {"reason": 5}, "reason"),
        ("discharge", {"discharge_power": 0}, "discharge_power"),
    ],
)
def test_invalid_bodies_queue_nothing(api, acme, charger_on_site, action, body, field):
    response = api.post(url(charger_on_site, action), body, acme[1])
    assert response.status_code == 400
    assert response.json()["details"]["field"] == field
    assert not Command.objects.exists()


def test_unknown_connector_and_foreign_device_are_404(
    api, acme, rival, charger_on_site, assigned_device
):
    assert api.post(url(charger_on_site, "start", 3), {}, acme[1]).json()["code"] == 3001
    foreign = assigned_device(rival[0])
    Connector.objects.create(device=foreign, connector_id=1)
    assert api.post(url(foreign, "start"), {}, acme[1]).status_code == 404
    assert not Command.objects.exists()


def test_control_needs_write_scope(api, make_client, operator_token, charger_on_site, acme):
    reader = operator_token(*make_client("Acme Charging", scopes=["read"]))
    response = api.post(url(charger_on_site, "start"), {}, reader)
    assert response.status_code == 403
    assert response.json()["code"] == 2003


PLAN = {
    "schedule_id": "sch_001",
    "enabled": True,
    "type": "weekly",
    "time_slots": [
        {
            "day_of_week": ["mon", "tue", "wed", "thu", "fri"],
            "start": "22:00",
            "end": "08:00",
            "power_limit": 7.0,
            "action": "charge",
        }
    ],
    "target_soc": 80,
    "effective_from": "2025-03-01T00:00:00Z",
    "effective_until": "2025-12-31T23:59:59Z",
    "timezone": "Europe/London",
}


def test_schedule_is_stored_and_sent(api, acme, charger_on_site):
    response = api.post(url(charger_on_site, "schedule"), PLAN, acme[1])
    assert response.status_code == 200, response.content
    command = Command.objects.get(command_id=response.json()["data"]["command_id"])
    assert command.command == "set_schedule"
    assert command.params["time_slots"][0]["start"] == "22:00"
    stored = Schedule.objects.get()
    assert (stored.schedule_id, stored.type, stored.timezone) == (
        "sch_001",
        "weekly",
        "Europe/London",
    )

    off = api.post(url(charger_on_site, "schedule"), {**PLAN, "enabled": False}, acme[1])
    assert off.status_code == 200
    assert Schedule.objects.count() == 1
    assert Schedule.objects.get().enabled is False


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"timezone": "Mars/Olympus"}, 1001, "timezone"),
        ({"effective_until": "2025-01-01T00:00:00Z"}, 1001, "effective_until"),
        ({"type": "hourly"}, 1001, "type"),
        ({"time_slots": []}, 1001, "time_slots"),
        (
            {
                "time_slots": [{"start": "25:00", "end": "08:00", "action": "charge"}],
                "type": "daily",
            },
            1001,
            "time_slots.0.start",
        ),
        (
            {"time_slots": [{"start": "22:00", "end": "08:00", "action": "charge"}]},
            1002,
            "time_slots.0.day_of_week",
        ),
        (
            {
                "time_slots": [
                    {
                        "day_of_week": ["mon"],
                        "start": "22:00",
                        "end": "08:00",
                        "action": "discharge",
                    }
                ]
            },
            1001,
            "time_slots",
        ),
        ({"enabled": "yes"}, 1001, "enabled"),
    ],
)
def test_invalid_schedules_store_nothing(api, acme, charger_on_site, change, code, field):
    response = api.post(url(charger_on_site, "schedule"), {**PLAN, **change}, acme[1])
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
    assert not Schedule.objects.exists()
    assert not Command.objects.exists()


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("stop", {"reason": "time_limit"}),
        ("discharge", {"discharge_power": 7.0}),
        ("schedule", PLAN),
    ],
)
def test_control_responses_match_the_spec(api, acme, charger_on_site, action, body):
    charger_on_site.v2g_capable = True
    charger_on_site.save()
    response = api.post(url(charger_on_site, action), body, acme[1])
    assert response.status_code == 200, response.content
    assert response.json()["data"]["status"] == "queued"
    # The spec gives the schedule answer no schema (decision: schedule-answer).
    if action != "schedule":
        path = "/operator/devices/{device_id}/connectors/{connector_id}/" + action
        assert_matches(response.json(), response_schema("post", path))
