"""Firmware campaigns (an extension): a staged rollout of one firmware version over an
operator's chargers. An operator creates, pauses, resumes and cancels a campaign
(creation, moves); the platform drives it (driver.drive_campaigns, a periodic task): it
queues the `firmware_upgrade` command for each charger of the current stage, follows the
chargers' answers (reports), waits a health window after each stage and halts the
rollout when its halt rules say so.

Lock order, so the paths never wait on each other in a circle: an operator's move and a
tick lock the campaign, then its chargers' rows; a charger's report locks the charger
(fleet.services.firmware), then its campaign row; a command change (the sweep) holds the
command, then the campaign row. Creation locks the chargers first (Device rows, by id).
"""

from fleet.services.firmware_campaigns.creation import create_campaign
from fleet.services.firmware_campaigns.driver import drive_campaigns, halt_condition
from fleet.services.firmware_campaigns.moves import (
    cancel_campaign,
    pause_campaign,
    resume_campaign,
)
from fleet.services.firmware_campaigns.reports import on_command_changed, on_firmware_report
from fleet.services.firmware_campaigns.rules import UPGRADE_COMMAND

__all__ = [
    "UPGRADE_COMMAND",
    "cancel_campaign",
    "create_campaign",
    "drive_campaigns",
    "halt_condition",
    "on_command_changed",
    "on_firmware_report",
    "pause_campaign",
    "resume_campaign",
]
