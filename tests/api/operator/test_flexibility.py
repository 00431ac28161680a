"""POST /v1/operator/control/flexibility: one control, a command per affected charger."""

import pytest

from fleet.models import Command, Control
from fleet.services.commands import report_command_status
from tests.spec import assert_matches, response_schema

pytestmark = pytest.mark.django_db
URL = "/v1/operator/control/flexibility"


@pytest.fixture
def two_sites(acme, rival, site_for, assigned_device):
    client = acme[0]
    north, south = site_for(client, "North"), site_for(client, "South")
    devices = [
        assigned_device(client, north),
        assigned_device(client, north),
        assigned_device(client, south),
    ]
    assigned_device(rival[0])  # never reached
    return north, south, devices


def test_power_limit_on_one_site(api, acme, two_sites):
    north, _, devices = two_sites
    body = {
        "target_type": "site",
        "target_ids": [north.site_id],
        "command": "set_power_limit",
        "params": {"power_limit_percent": 50, "duration": 1800, "reason": "grid_overload"},
    }
    response = api.post(URL, body, acme[1])
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["status"] == "executing"
    assert data["commands"] == 2
    assert_matches(response.json(), response_schema("post", "/operator/control/flexibility"))
    commands = Command.objects.filter(control_id=data["control_id"])
    assert sorted(c.device_id for c in commands) == sorted(d.device_id for d in devices[:2])
    for command in commands:
        assert command.command == "set_power_limit"
        assert command.connector_id is None  # device-wide
        assert command.params["power_limit_percent"] == 50
        assert command.params["duration"] == 1800


def test_pause_goes_out_as_a_zero_percent_limit_to_everything_visible(api, acme, two_sites):
    body = {"target_type": "all", "command": "pause_charging", "params": {"duration": 600}}
    data = api.post(URL, body, acme[1]).json()["data"]
    commands = Command.objects.filter(control_id=data["control_id"])
    assert commands.count() == 3
    assert {c.params["power_limit_percent"] for c in commands} == {0}


def test_operator_target_is_the_callers_own(api, acme, two_sites):
    body = {
        "target_type": "operator",
        "target_ids": [acme[0].operator_id],
        "command": "pause_charging",
        "params": {"duration": 60},
    }
    assert api.post(URL, body, acme[1]).json()["data"]["commands"] == 3


def test_control_progress_through_the_commands_endpoint(api, acme, two_sites):
    from datetime import UTC, datetime

    body = {"target_type": "all", "command": "pause_charging", "params": {"duration": 600}}
    control_id = api.post(URL, body, acme[1]).json()["data"]["control_id"]
    status = lambda: api.get(f"/v1/operator/commands/{control_id}", acme[1]).json()["data"]  # noqa: E731
    assert status()["status"] == "queued"
    commands = list(Command.objects.filter(control_id=control_id))
    now = datetime.now(UTC)
    report_command_status(commands[0].device_id, commands[0].command_id, "accepted", now)
    assert status()["status"] == "accepted"
    for command in commands:
        report_command_status(command.device_id, command.command_id, "completed", now)
    summary = status()
    assert summary["status"] == "completed"
    assert summary["result"]["by_status"]["completed"] == 3


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"target_type": "site", "command": "pause_charging", "params": {"duration": 60}},
            1002,
            "target_ids",
        ),
        (
            {"target_type": "all", "command": "set_power_limit", "params": {"duration": 60}},
            1002,
            "params.power_limit_percent",
        ),
        (
            {
                "target_type": "all",
                "command": "set_power_limit",
                "params": {"power_limit_percent": 150, "duration": 60},
            },
            1001,
            "params.power_limit_percent",
        ),
        (
            {"target_type": "all", "command": "pause_charging", "params": {"duration": 0}},
            1001,
            "params.duration",
        ),
        (
            {"target_type": "region", "command": "pause_charging", "params": {"duration": 60}},
            1001,
            "target_type",
        ),
        ({"target_type": "all", "command": "reboot", "params": {}}, 1001, "command"),
    ],
)
def test_invalid_requests_change_nothing(api, acme, two_sites, body, code, field):
    response = api.post(URL, body, acme[1])
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
    assert not Control.objects.exists()
    assert not Command.objects.exists()


def test_foreign_targets_are_404(api, acme, rival, site_for, two_sites):
    theirs = site_for(rival[0], "Theirs")
    for body in (
        {
            "target_type": "site",
            "target_ids": [theirs.site_id],
            "command": "pause_charging",
            "params": {"duration": 60},
        },
        {
            "target_type": "operator",
            "target_ids": [rival[0].operator_id],
            "command": "pause_charging",
            "params": {"duration": 60},
        },
    ):
        response = api.post(URL, body, acme[1])
        assert response.status_code == 404
        assert response.json()["code"] == 3001
    assert not Command.objects.exists()


def test_flexibility_has_its_own_rate_bucket(api, acme, two_sites, settings):
    settings.TELLUS_RATE_OPERATOR_CONTROL = (1, 60)
    body = {"target_type": "all", "command": "pause_charging", "params": {"duration": 60}}
    assert api.post(URL, body, acme[1]).status_code == 200
    assert api.post(URL, body, acme[1]).status_code == 429
    assert api.get("/v1/operator/sites", acme[1]).status_code == 200
