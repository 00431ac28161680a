"""Commands that never finish: expiry, no response, execution timeout."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.actors import Actor
from fleet.errors import Conflict
from fleet.models import Command
from fleet.services import lifecycle
from fleet.services.commands import claim_commands_orm, queue_command, report_command_status

pytestmark = pytest.mark.django_db


def history(command: Command) -> list[tuple[str, str]]:
    return list(command.history.values_list("status", "source"))


def test_undelivered_past_expiry_fails_as_expired(device):
    command = queue_command(
        Actor.platform(), device, "start_charging", {}, connector_id=1, expires_in=60
    )
    assert lifecycle.expire_undelivered(timezone.now()) == []
    failed = lifecycle.expire_undelivered(timezone.now() + timedelta(seconds=61))
    assert [c.command_id for c in failed] == [command.command_id]
    command.refresh_from_db()
    assert (command.status, command.result) == ("failed", {"reason": "expired"})
    assert history(command)[-1] == ("failed", "platform")
    assert lifecycle.expire_undelivered(timezone.now() + timedelta(seconds=120)) == []


def test_delivered_without_answer_fails_as_no_response(device, settings):
    settings.TELLUS_COMMAND_NO_RESPONSE_SECONDS = 30
    command = queue_command(Actor.platform(), device, "stop_charging", {}, connector_id=1)
    claim_commands_orm(device.device_id, 1, 1, "long_poll")
    assert lifecycle.fail_unanswered(timezone.now()) == []
    assert lifecycle.expire_undelivered(timezone.now() + timedelta(hours=1)) == []  # delivered
    lifecycle.fail_unanswered(timezone.now() + timedelta(seconds=31))
    command.refresh_from_db()
    assert (command.status, command.result) == ("failed", {"reason": "no_response"})


def test_accepted_without_final_status_fails_as_timeout(device, settings):
    settings.TELLUS_COMMAND_EXECUTION_TIMEOUT_SECONDS = 3600
    command = queue_command(Actor.platform(), device, "start_charging", {}, connector_id=1)
    report_command_status(device.device_id, command.command_id, "accepted", timezone.now())
    assert lifecycle.fail_stalled(timezone.now()) == []
    lifecycle.fail_stalled(timezone.now() + timedelta(seconds=3601))
    command.refresh_from_db()
    assert (command.status, command.result) == ("failed", {"reason": "timeout"})
    assert [s for s, _ in history(command)] == ["queued", "accepted", "failed"]


def test_a_late_report_on_a_platform_failed_command_is_refused(device):
    command = queue_command(
        Actor.platform(), device, "start_charging", {}, connector_id=1, expires_in=0
    )
    lifecycle.expire_undelivered(timezone.now())
    with pytest.raises(Conflict):
        report_command_status(device.device_id, command.command_id, "accepted", timezone.now())
    command.refresh_from_db()
    assert command.status == "failed"
