"""POST /v1/device/command-status."""

import pytest
from asgiref.sync import sync_to_async

from fleet.actors import Actor
from fleet.models import Command, Device
from fleet.services.commands import queue_command
from tests.conftest import now_iso

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def queue(device_id: str) -> Command:
    return queue_command(
        Actor.platform(),
        Device.objects.get(device_id=device_id),
        "start_charging",
        {},
        connector_id=1,
    )


@sync_to_async
def reload(command: Command) -> tuple[Command, list[tuple[str, str]]]:
    fresh = Command.objects.get(pk=command.pk)
    return fresh, list(fresh.history.values_list("status", "source"))


def report(command: Command, status: str, **extra) -> dict:
    return {"command_id": command.command_id, "status": status, "timestamp": now_iso(), **extra}


async def test_accepted_then_completed_with_history(charger):
    unit = await charger()
    command = await queue(unit.device_id)
    await unit.poll()
    assert (await unit.post("command-status", report(command, "accepted"))).json()["code"] == 0
    stored, _ = await reload(command)
    assert (stored.status, stored.device_status) == ("accepted", "accepted")

    done = report(command, "completed", details={"energy_delivered": 12.5, "duration": 3600})
    assert (await unit.post("command-status", done)).status_code == 200
    stored, history = await reload(command)
    assert stored.status == "completed"
    assert stored.result == {"energy_delivered": 12.5, "duration": 3600}
    assert history == [("queued", "operator"), ("accepted", "charger"), ("completed", "charger")]


async def test_rejected_is_failed_for_operators_with_the_reason(charger):
    unit = await charger()
    command = await queue(unit.device_id)
    body = report(command, "rejected", message="connector_occupied", details={"code": 7})
    assert (await unit.post("command-status", body)).status_code == 200
    stored, _ = await reload(command)
    assert (stored.status, stored.device_status) == ("failed", "rejected")
    assert stored.result == {"code": 7, "reason": "connector_occupied", "device_status": "rejected"}


async def test_a_retried_report_is_accepted_without_a_new_history_entry(charger):
    unit = await charger()
    command = await queue(unit.device_id)
    await unit.post("command-status", report(command, "accepted"))
    assert (await unit.post("command-status", report(command, "accepted"))).status_code == 200
    _, history = await reload(command)
    assert len(history) == 2


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("completed", "accepted"),
        ("rejected", "completed"),
        ("failed", "accepted"),
        ("completed", "failed"),
    ],
)
async def test_illegal_transitions_are_409(charger, first, then):
    unit = await charger()
    command = await queue(unit.device_id)
    await unit.post("command-status", report(command, first))
    response = await unit.post("command-status", report(command, then))
    assert response.status_code == 409
    assert response.json()["code"] == 4001
    stored, history = await reload(command)
    assert stored.device_status == first
    assert len(history) == 2


async def test_only_the_addressed_device_may_report(charger):
    owner, stranger = await charger(), await charger()
    command = await queue(owner.device_id)
    response = await stranger.post("command-status", report(command, "accepted"))
    assert response.status_code == 404
    assert response.json()["code"] == 3001
    stored, _ = await reload(command)
    assert stored.device_status == ""


async def test_unknown_command_is_404(charger):
    unit = await charger()
    body = {"command_id": "cmd_nope", "status": "accepted", "timestamp": now_iso()}
    assert (await unit.post("command-status", body)).json()["code"] == 3001


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"status": "done"}, 1001, "status"),
        ({"timestamp": None}, 1001, "timestamp"),
        ({"details": "ok"}, 1001, "details"),
    ],
)
async def test_invalid_reports_are_refused(charger, change, code, field):
    unit = await charger()
    command = await queue(unit.device_id)
    response = await unit.post("command-status", {**report(command, "accepted"), **change})
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field
