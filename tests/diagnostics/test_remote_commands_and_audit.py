"""Remote diagnostic commands and the audit log."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import AuditEntry, Command, Connector
from fleet.services import provisioning

pytestmark = pytest.mark.django_db


@pytest.fixture
def device(acme, assigned_device):
    device = assigned_device(acme[0])
    Connector.objects.create(device=device, connector_id=1, state="idle")
    Connector.objects.create(device=device, connector_id=2, state="charging")
    return device


def send(api, token, device, **body):
    return api.post(f"/v1/operator/devices/{device.device_id}/diagnostic-commands", body, token)


def test_low_risk_commands_are_queued_like_any_other(api, acme, device):
    response = send(api, acme[1], device, command="reboot")
    assert response.status_code == 200, response.content
    command = Command.objects.get(command_id=response.json()["data"]["command_id"])
    assert (command.command, command.connector_id, command.status) == ("reboot", None, "queued")
    assert command.issued_by_client_id == acme[0].client_id


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"command": "self_destruct"}, 1001, "command"),
        ({"command": "run_self_test"}, 1001, "confirm"),
        ({"command": "unlock_connector", "confirm": True}, 1002, "connector_id"),
        ({"command": "unlock_connector", "connector_id": 2, "confirm": True}, 1001, "connector_id"),
        (
            {"command": "calibrate_sensor", "confirm": True, "params": {"sensor": "humidity"}},
            1001,
            "params.sensor",
        ),
        (
            {"command": "calibrate_sensor", "confirm": True, "params": {"sensor": "voltage"}},
            1002,
            "params.reference",
        ),
        (
            {"command": "reset_power_module", "confirm": True, "params": {"module": -1}},
            1001,
            "params.module",
        ),
        ({"command": "trigger_message", "params": {"message": "Reset"}}, 1001, "params.message"),
    ],
)
def test_refusals_queue_nothing(api, acme, device, body, code, field):
    response = send(api, acme[1], device, **body)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
    assert not Command.objects.exists()


def test_medium_risk_with_confirmation_and_idle_unlock(api, acme, device):
    assert send(api, acme[1], device, command="run_self_test", confirm=True).status_code == 200
    unlock = send(api, acme[1], device, command="unlock_connector", connector_id=1, confirm=True)
    assert unlock.status_code == 200
    calibrate = send(api, acme[1], device, command="calibrate_sensor", confirm=True,
                     params={"sensor": "temperature", "reference": 25.0})  # fmt: skip
    assert calibrate.status_code == 200
    assert Command.objects.count() == 3


def test_unknown_connector_and_foreign_device_are_404(
    api, acme, device, make_client, assigned_device
):
    assert (
        send(api, acme[1], device, command="reset_connector", connector_id=9).json()["code"] == 3001
    )
    foreign = assigned_device(make_client("Rival")[0])
    assert send(api, acme[1], foreign, command="reboot").status_code == 404


def test_the_audit_log_records_commands_alerts_rotations_and_logins(api, acme, device, client):
    provisioned = list(AuditEntry.objects.values_list("id", flat=True))  # the fixtures' own
    send(api, acme[1], device, command="fetch_logs")
    api.post(f"/v1/operator/devices/{device.device_id}/connectors/1/start", {}, acme[1])
    provisioning.rotate_client_secret(Actor.platform(), acme[0].client_id)
    entries = AuditEntry.objects.filter(operator_id=acme[0].operator_id).exclude(id__in=provisioned)
    actions = sorted(entries.values_list("action", "resource_type"))
    assert actions == [
        ("execute_command", "device"),
        ("execute_command", "device"),
        ("rotate_secret", "client"),
    ]
    command_entry = entries.filter(action="execute_command").order_by("at").first()
    assert command_entry.actor == f"client:{acme[0].client_id}"
    assert command_entry.details["command"] == "fetch_logs"
    assert command_entry.ip == "127.0.0.1"

    get_user_model().objects.create_user("engineer", password="pw-for-tests-1")
    client.post("/login/", {"username": "engineer", "password": "pw-for-tests-1"})
    assert AuditEntry.objects.filter(action="login", actor="user:engineer").exists()


def test_audit_log_api_with_filters(
    api, acme, device, make_client, operator_token, django_capture_on_commit_callbacks
):
    started = timezone.now()  # after the fixtures' own entries
    send(api, acme[1], device, command="reboot")
    send(api, acme[1], device, command="clear_cache")
    with django_capture_on_commit_callbacks(execute=True):  # publishes the new secret version
        rotated = provisioning.rotate_client_secret(Actor.platform(), acme[0].client_id)
    token = operator_token(*rotated)
    since = started.isoformat()
    listed = api.get("/v1/operator/audit-logs", token, since=since).json()["data"]
    assert listed["total"] == 3
    assert listed["items"][0]["action"] == "rotate_secret"  # newest first
    commands = api.get("/v1/operator/audit-logs", token, action="execute_command").json()["data"]
    assert [e["details"]["command"] for e in commands["items"]] == ["clear_cache", "reboot"]
    by_resource = api.get(
        "/v1/operator/audit-logs", token, resource_type="device", resource_id=device.device_id,
        since=since,
    )  # fmt: skip
    assert by_resource.json()["data"]["total"] == 2
    rival = operator_token(*make_client("Rival"))
    rivals = api.get("/v1/operator/audit-logs", rival, resource_type="device").json()["data"]
    assert rivals["total"] == 0
