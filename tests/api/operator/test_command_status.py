"""GET /v1/operator/commands/{command_id}."""

import pytest

from fleet.actors import Actor
from fleet.services.commands import queue_command, report_command_status
from tests.spec import assert_matches, response_schema

pytestmark = pytest.mark.django_db


def test_status_follows_the_charger(api, acme, assigned_device):
    from datetime import UTC, datetime

    client, token = acme
    device = assigned_device(client)
    command = queue_command(
        Actor.platform(client.operator_id), device, "start_charging", {}, connector_id=1
    )
    url = f"/v1/operator/commands/{command.command_id}"

    body = api.get(url, token).json()
    assert body["data"]["status"] == "queued"
    assert_matches(body, response_schema("get", "/operator/commands/{command_id}"))

    now = datetime.now(UTC)
    report_command_status(device.device_id, command.command_id, "accepted", now)
    assert api.get(url, token).json()["data"]["status"] == "accepted"
    report_command_status(
        device.device_id, command.command_id, "completed", now, details={"energy_delivered": 9.5}
    )
    data = api.get(url, token).json()["data"]
    assert data["status"] == "completed"
    assert data["result"] == {"energy_delivered": 9.5}
    assert data["created_at"] <= data["updated_at"]


def test_rejected_reads_as_failed_with_reason(api, acme, assigned_device):
    from datetime import UTC, datetime

    client, token = acme
    device = assigned_device(client)
    command = queue_command(
        Actor.platform(client.operator_id), device, "start_charging", {}, connector_id=1
    )
    report_command_status(
        device.device_id, command.command_id, "rejected", datetime.now(UTC), "occupied"
    )
    data = api.get(f"/v1/operator/commands/{command.command_id}", token).json()["data"]
    assert data["status"] == "failed"
    assert data["result"]["reason"] == "occupied"


def test_other_operators_commands_are_404(api, acme, rival, assigned_device):
    client, _ = rival
    device = assigned_device(client)
    command = queue_command(
        Actor.platform(client.operator_id), device, "stop_charging", {}, connector_id=1
    )
    response = api.get(f"/v1/operator/commands/{command.command_id}", acme[1])
    assert response.status_code == 404
    assert api.get("/v1/operator/commands/cmd_unknown", acme[1]).json()["code"] == 3001
