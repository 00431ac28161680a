"""A charger's answers move its row at once: its firmware status reports and its command's
status changes."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone

from fleet.models import CampaignDevice, Command, Device
from fleet.services.firmware_campaigns.rules import (
    NEVER_REACHED,
    NOT_REACHED,
    UPGRADE_COMMAND,
    State,
    announce,
)


def _held_row(device_id: str) -> CampaignDevice | None:
    return (
        CampaignDevice.objects.select_for_update()
        .select_related("campaign")
        .filter(device_id=device_id, holds=True)
        .first()
    )


def _finish(row: CampaignDevice, state: str, reason: str = "", at: datetime | None = None) -> None:
    row.state = state
    row.reason = reason
    row.finished_at = at or timezone.now()


def on_firmware_report(
    device_id: str, firmware_version: str, status: str, progress: int | None, message: str
) -> None:
    """A charger's firmware report (inside report_firmware_status's transaction): its row
    in its active campaign follows, if the report is about the campaign's target."""
    row = _held_row(device_id)
    if row is None or row.campaign.target_version != firmware_version:
        return
    if row.state == State.SUCCEEDED:
        return  # a late report of an upgrade already done changes nothing
    before = row.state
    row.report_status, row.report_progress = status, progress
    row.report_message, row.report_at = message[:2000], timezone.now()
    if status == "success":
        _finish(row, State.SUCCEEDED, at=row.report_at)
    elif status == "failed":
        _finish(row, State.FAILED, message or "the charger reported the upgrade failed")
    elif status in ("downloading", "upgrading") and row.state not in CampaignDevice.FINAL:
        row.state = status
    row.save()
    if row.state != before:
        announce(row.campaign)


def on_command_changed(sender: object, command: Command, **kwargs: object) -> None:
    """command_changed receiver: a campaign's upgrade command was answered or failed."""
    if command.command != UPGRADE_COMMAND:
        return
    row = (
        CampaignDevice.objects.select_for_update()
        .select_related("campaign")
        .filter(command_id=command.command_id, holds=True)
        .first()
    )
    if row is not None and _follow_command(row, command):
        row.save()
        announce(row.campaign)


def _follow_command(row: CampaignDevice, command: Command) -> bool:
    """Move the row after its command's status; True when it changed."""
    if row.state in CampaignDevice.FINAL:
        return False
    reason = (command.result or {}).get("reason") or command.device_status or "failed"
    if command.status == Command.Status.FAILED:
        if command.device_status in ("rejected", "failed"):
            _finish(row, State.FAILED, f"the charger refused the upgrade: {reason}")
        elif reason in NOT_REACHED:
            if row.attempts >= settings.TELLUS_CAMPAIGN_MAX_ATTEMPTS:
                _finish(row, State.FAILED, NEVER_REACHED)
            else:  # sent again on a later tick
                row.state = State.QUEUED
                row.reason = f"not reached (attempt {row.attempts}); will try again"
        elif row.state == State.SENT:  # timeout: accepted, then silence
            _finish(row, State.FAILED, "the charger accepted the upgrade but never finished it")
        else:
            return False  # downloading or upgrading: its firmware reports decide
        return True
    if command.status == Command.Status.COMPLETED and (
        Device.objects.filter(
            pk=row.device_id, firmware_version=row.campaign.target_version
        ).exists()
    ):
        _finish(row, State.SUCCEEDED)
        return True
    return False
