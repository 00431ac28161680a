"""The platform's part: a periodic tick that sends the current stage's upgrades, starts the
next stage after the health window, completes a campaign, and halts it when a halt rule
holds."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import CampaignDevice, DeviceEvent, FirmwareCampaign
from fleet.services import audit
from fleet.services.commands import queue_command
from fleet.services.firmware_campaigns.rules import (
    BASELINE,
    DEFAULT_FAULT_RATE_FACTOR,
    MIN_EXPOSURE_HOURS,
    UPGRADE_COMMAND,
    State,
    Status,
    announce,
)


@dataclass(frozen=True)
class Halt:
    reason: str
    rule: str


logger = logging.getLogger(__name__)


def _percent(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _rate(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value < 10 else f"{value:.0f}"


def halt_condition(campaign: FirmwareCampaign, now: datetime) -> Halt | None:
    """The first of the campaign's halt rules that holds now, in words; None if none."""
    rules = campaign.halt_if or {}
    rows = campaign.devices.exclude(state=State.SKIPPED)
    limit = rules.get("failed_percent")
    if limit is not None:
        finished = rows.filter(
            state__in=(State.SUCCEEDED, State.FAILED), finished_at__gte=campaign.rules_from
        ).aggregate(total=Count("pk"), failed=Count("pk", filter=Q(state=State.FAILED)))
        if finished["total"] and finished["failed"] * 100 / finished["total"] > limit:
            share = finished["failed"] * 100 / finished["total"]
            return Halt(
                f"{finished['failed']} of {finished['total']} upgraded chargers failed "
                f"({_percent(share)} %, above the {_percent(limit)} % limit)",
                "failed_percent",
            )
    codes = rules.get("fault_codes") or []
    if codes:
        upgraded = list(
            rows.filter(state=State.SUCCEEDED, finished_at__isnull=False).values_list(
                "device_id", "finished_at"
            )
        )
        factor = rules.get("fault_rate_factor") or DEFAULT_FAULT_RATE_FACTOR
        for code in codes:
            halt = _fault_rate(campaign, code, upgraded, factor, now)
            if halt is not None:
                return halt
    return None


def _fault_rate(
    campaign: FirmwareCampaign,
    code: str,
    upgraded: list[tuple[str, datetime]],
    factor: float,
    now: datetime,
) -> Halt | None:
    if not upgraded:
        return None
    faults = DeviceEvent.objects.filter(
        operator_id=campaign.operator_id, event_type="fault", fault_code=code
    )
    after, raised_by, exposure = 0, 0, 0.0
    for device_id, upgraded_at in upgraded:
        since = max(upgraded_at, campaign.rules_from)
        count = faults.filter(device_id=device_id, timestamp__gte=since, timestamp__lte=now).count()
        after += count
        raised_by += bool(count)
        exposure += max((now - since).total_seconds(), 0) / 3600
    if not after:
        return None
    before = faults.filter(
        device_id__in=[device_id for device_id, _ in upgraded],
        timestamp__gte=campaign.created_at - BASELINE,
        timestamp__lt=campaign.created_at,
    ).count()
    # Both rates per charger-hour: `exposure` already sums the upgraded chargers' hours.
    rate_after = after / max(exposure, MIN_EXPOSURE_HOURS)
    rate_before = before / (BASELINE.total_seconds() / 3600) / len(upgraded)
    if rate_before and rate_after <= factor * rate_before:
        return None
    chargers = "charger" if raised_by == 1 else "chargers"
    return Halt(
        f"{code} on {raised_by} upgraded {chargers}: {_rate(rate_after)} an hour against "
        f"{_rate(rate_before)} before (per charger; the limit is {_percent(factor)} times "
        "the rate before)",
        "fault_rate",
    )


def _send(campaign: FirmwareCampaign, rows: Iterable[CampaignDevice]) -> int:
    platform = Actor.platform(campaign.operator_id)
    params = {"firmware_version": campaign.target_version, "package_url": campaign.package_url}
    sent = 0
    for row in rows:
        # Device-wide: handed out with a heartbeat or to whichever connector polls first
        # (decision: device-wide-commands).
        row.command = queue_command(
            platform, row.device, UPGRADE_COMMAND, dict(params), connector_id=None
        )
        row.state = State.SENT
        row.attempts += 1
        row.save(update_fields=["command", "state", "attempts", "updated_at"])
        sent += 1
    return sent


def _stage_done_at(campaign: FirmwareCampaign, stage: int) -> datetime | None:
    """When the stage's last charger finished; None while one is still on its way."""
    row = campaign.devices.filter(stage=stage).aggregate(
        open=Count("pk", filter=~Q(state__in=CampaignDevice.FINAL)), last=Max("finished_at")
    )
    if row["open"]:
        return None
    return max(row["last"] or campaign.stage_started_at, campaign.stage_started_at)


def _drive(campaign: FirmwareCampaign, now: datetime) -> bool:
    """One tick of one running campaign (its row locked); True when it moved."""
    moved = False
    halt = halt_condition(campaign, now)
    if halt is not None:
        campaign.status, campaign.halt_reason, campaign.halted_at = Status.HALTED, halt.reason, now
        campaign.save(update_fields=["status", "halt_reason", "halted_at", "updated_at"])
        audit.record(
            Actor.platform(campaign.operator_id),
            action="halt_firmware_campaign",
            resource_type="firmware_campaign",
            resource_id=campaign.campaign_id,
            before={"status": Status.RUNNING},
            after={"status": Status.HALTED},
            details={"reason": halt.reason, "rule": halt.rule},
        )
        return True
    while True:
        due = (
            campaign.devices.select_for_update()
            .select_related("device")
            .filter(state=State.QUEUED, stage__lte=campaign.current_stage, holds=True)
            .order_by("device_id")
        )
        moved |= bool(_send(campaign, due))
        done_at = _stage_done_at(campaign, campaign.current_stage)
        window = timedelta(minutes=campaign.health_window_minutes)
        if done_at is None or now < done_at + window:
            return moved
        moved = True
        if campaign.current_stage + 1 >= len(campaign.stages):
            campaign.status, campaign.finished_at = Status.COMPLETED, now
            campaign.save(update_fields=["status", "finished_at", "updated_at"])
            campaign.devices.update(holds=False)
            audit.record(
                Actor.platform(campaign.operator_id),
                action="complete_firmware_campaign",
                resource_type="firmware_campaign",
                resource_id=campaign.campaign_id,
                before={"status": Status.RUNNING},
                after={"status": Status.COMPLETED},
            )
            return True
        campaign.current_stage += 1
        campaign.stage_started_at = now
        campaign.stage_starts = [*campaign.stage_starts, now.isoformat()]
        campaign.save(
            update_fields=["current_stage", "stage_started_at", "stage_starts", "updated_at"]
        )


def drive_campaigns(now: datetime | None = None) -> int:
    """One tick over the running campaigns, each in its own transaction under its row
    lock (a campaign another worker is driving is left to it). Returns how many moved:
    upgrades sent, a stage begun, completed or halted."""
    now = now or timezone.now()
    moved = 0
    running = FirmwareCampaign.objects.filter(status=Status.RUNNING).order_by("created_at")
    for campaign_id in list(running.values_list("campaign_id", flat=True)):
        try:
            moved += _drive_one(campaign_id, now)
        except Exception:  # one campaign's failure leaves the others (other tenants') moving
            logger.exception(
                "Firmware campaign %s: its tick failed, retried next tick", campaign_id
            )
    return moved


def _drive_one(campaign_id: str, now: datetime) -> int:
    with transaction.atomic():
        campaign = (
            FirmwareCampaign.objects.select_for_update(skip_locked=True)
            .filter(campaign_id=campaign_id, status=Status.RUNNING)
            .first()
        )
        if campaign is None or not _drive(campaign, now):
            return 0
        announce(campaign)
        return 1
