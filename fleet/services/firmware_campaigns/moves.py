"""An operator's moves on a campaign: pause, resume and cancel, each under the campaign's
row lock; an impossible move is refused (409)."""

from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fleet.actors import Actor
from fleet.errors import Conflict, NotFound
from fleet.models import Command, FirmwareCampaign
from fleet.services import audit
from fleet.services.firmware_campaigns.rules import (
    State,
    Status,
    announce,
)
from fleet.services.lifecycle import withdraw_undelivered


def _locked(actor: Actor, campaign_id: str) -> FirmwareCampaign:
    campaign = (
        FirmwareCampaign.objects.select_for_update()
        .filter(campaign_id=campaign_id, operator_id=actor.operator_id)
        .first()
    )
    if campaign is None:
        raise NotFound(f"Firmware campaign '{campaign_id}' not found")
    return campaign


def _refuse(campaign: FirmwareCampaign, move: str) -> Conflict:
    return Conflict(
        f"A {campaign.status} campaign cannot be {move}",
        {"field": "status", "value": move, "current": campaign.status},
    )


def _move(
    actor: Actor, campaign: FirmwareCampaign, to: str, action: str, **fields: Any
) -> FirmwareCampaign:
    before = campaign.status
    campaign.status = to
    for key, value in fields.items():
        setattr(campaign, key, value)
    campaign.save()
    audit.record(
        actor,
        action=action,
        resource_type="firmware_campaign",
        resource_id=campaign.campaign_id,
        before={"status": before},
        after={"status": to},
    )
    announce(campaign)
    return campaign


@transaction.atomic
def pause_campaign(actor: Actor, campaign_id: str) -> FirmwareCampaign:
    """Stop sending upgrades; chargers already upgrading finish. Only a running campaign."""
    campaign = _locked(actor, campaign_id)
    if campaign.status != Status.RUNNING:
        raise _refuse(campaign, "paused")
    return _move(actor, campaign, Status.PAUSED, "pause_firmware_campaign")


@transaction.atomic
def resume_campaign(actor: Actor, campaign_id: str) -> FirmwareCampaign:
    """Go on from a pause or a halt (the operator decided): a halt is cleared, and the
    halt rules count from now on (decision: campaign-resume-after-halt)."""
    campaign = _locked(actor, campaign_id)
    if campaign.status not in (Status.PAUSED, Status.HALTED):
        raise _refuse(campaign, "resumed")
    fields: dict[str, Any] = {}
    if campaign.status == Status.HALTED:
        fields = {"halt_reason": "", "halted_at": None, "rules_from": timezone.now()}
    return _move(actor, campaign, Status.RUNNING, "resume_firmware_campaign", **fields)


@transaction.atomic
def cancel_campaign(actor: Actor, campaign_id: str) -> FirmwareCampaign:
    """End the campaign: chargers not yet reached are skipped and their undelivered
    commands withdrawn (failed as `cancelled`); a charger already upgrading finishes on
    its own. Its chargers are free for another campaign."""
    campaign = _locked(actor, campaign_id)
    if campaign.status not in FirmwareCampaign.ACTIVE:
        raise _refuse(campaign, "cancelled")
    now = timezone.now()
    rows = campaign.devices.select_for_update()
    undelivered = list(
        rows.filter(
            state=State.SENT,
            command__status=Command.Status.QUEUED,
            command__delivered_at__isnull=True,
        ).values_list("command_id", flat=True)
    )
    rows.filter(Q(state=State.QUEUED) | Q(command_id__in=undelivered, state=State.SENT)).update(
        state=State.SKIPPED, reason="campaign cancelled", finished_at=now, updated_at=now
    )
    rows.update(holds=False)
    _move(actor, campaign, Status.CANCELLED, "cancel_firmware_campaign", finished_at=now)
    # The query above locked the undelivered commands with their rows (FOR UPDATE over
    # the join): a delivery under way finishes first and its command is no longer
    # undelivered; none can start now. Withdrawn in batches (lifecycle.BATCH at a time).
    withdrawn: set[str] = set()
    while batch := withdraw_undelivered(
        [command_id for command_id in undelivered if command_id not in withdrawn],
        "cancelled",
        "The firmware campaign was cancelled",
    ):
        withdrawn |= {command.command_id for command in batch}
    return campaign
