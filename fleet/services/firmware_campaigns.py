"""Firmware campaigns (an extension): a staged rollout of one firmware version over an
operator's chargers. An operator creates, pauses, resumes and cancels a campaign; the
platform drives it (drive_campaigns, a periodic task): it queues the `firmware_upgrade`
command for each charger of the current stage, follows the chargers' answers, waits a
health window after each stage and halts the rollout when its halt rules say so.

Lock order, so the paths never wait on each other in a circle: an operator's move and a
tick lock the campaign, then its chargers' rows; a charger's report locks the charger
(fleet.services.firmware), then its campaign row; a command change (the sweep) holds the
command, then the campaign row. Creation locks the chargers first (Device rows, by id).
"""

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.models import CampaignDevice, Command, Device, DeviceEvent, FirmwareCampaign
from fleet.services import audit
from fleet.services.commands import queue_command
from fleet.services.lifecycle import withdraw_undelivered
from fleet.services.tenancy import devices_of, sites_of
from fleet.signals import firmware_campaign_changed

Status = FirmwareCampaign.Status
State = CampaignDevice.State

logger = logging.getLogger(__name__)
UPGRADE_COMMAND = "firmware_upgrade"
MAX_STAGES = 20
MAX_HEALTH_WINDOW_MINUTES = 7 * 24 * 60
DEFAULT_FAULT_RATE_FACTOR = 2.0
# The fault-rate rule compares with the chargers' own rate over this long before the start.
BASELINE = timedelta(days=7)
# Right after an upgrade a single fault would read as a huge hourly rate: the rate after
# is taken over at least this much charger-time (decision: campaign-halt-rules).
MIN_EXPOSURE_HOURS = 1.0
# Platform failures of a command that mean the charger never took it (it was offline):
# the upgrade is sent again, up to TELLUS_CAMPAIGN_MAX_ATTEMPTS times.
NOT_REACHED = ("expired", "no_response")
NEVER_REACHED = "never reached the charger"
_IN_FLIGHT = (State.SENT, State.DOWNLOADING, State.UPGRADING)


# --- Validation -----------------------------------------------------------------------------


def _stages(stages: Any) -> list[int]:
    if stages is None:
        return [100]
    if not isinstance(stages, list) or not stages:
        raise InvalidParameter("stages", stages, "stages must be a non-empty list of percentages")
    if len(stages) > MAX_STAGES:
        raise InvalidParameter("stages", len(stages), f"at most {MAX_STAGES} stages")
    for index, percent in enumerate(stages):
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 100:
            raise InvalidParameter(
                f"stages.{index}", percent, "each stage is a whole percentage from 1 to 100"
            )
        if index and percent <= stages[index - 1]:
            raise InvalidParameter(
                f"stages.{index}", percent, "stages must be strictly increasing percentages"
            )
    if stages[-1] != 100:
        raise InvalidParameter("stages", stages, "the last stage must reach 100 %")
    return list(stages)


def _halt_rules(halt_if: dict[str, Any] | None) -> dict[str, Any]:
    halt_if = dict(halt_if or {})
    failed = halt_if.get("failed_percent")
    if failed is not None and (
        isinstance(failed, bool)
        or not isinstance(failed, int | float)
        or not math.isfinite(failed)
        or not 0 <= failed <= 100
    ):
        raise InvalidParameter("halt_if.failed_percent", failed, "a percentage from 0 to 100")
    codes = halt_if.get("fault_codes") or []
    if not isinstance(codes, list) or any(not isinstance(c, str) or not c for c in codes):
        raise InvalidParameter("halt_if.fault_codes", codes, "a list of fault codes")
    factor = halt_if.get("fault_rate_factor")
    factor = DEFAULT_FAULT_RATE_FACTOR if factor is None else factor
    if (
        isinstance(factor, bool)
        or not isinstance(factor, int | float)
        or not math.isfinite(factor)
        or not 0 < factor <= 1000
    ):
        raise InvalidParameter("halt_if.fault_rate_factor", factor, "a number above 0, up to 1000")
    return {
        "failed_percent": float(failed) if failed is not None else None,
        "fault_codes": sorted(set(codes)),
        "fault_rate_factor": float(factor),
    }


def _check_text(field: str, value: Any, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise InvalidParameter(field, value, f"{field} is required text")
    value = value.strip()
    if len(value) > max_length:
        raise InvalidParameter(field, len(value), f"{field} is at most {max_length} characters")
    return value


def _package_url(value: Any) -> str:
    limit = FirmwareCampaign._meta.get_field("package_url").max_length
    url = _check_text("package_url", value, limit)
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in ("https", "http") or not rest or any(c.isspace() for c in url):
        raise InvalidParameter("package_url", url, "package_url must be an http(s) address")
    return url


# --- Creation -------------------------------------------------------------------------------


def _selected(actor: Actor, device_ids: list[str] | None, selection: dict | None) -> list[Device]:
    """The chargers asked for, in the actor's fleet, locked, ordered by device_id. An id
    outside the fleet answers like an unknown one (decision: tenancy)."""
    fleet = devices_of(actor.operator_id)
    if device_ids is not None:
        wanted = sorted(set(device_ids))
        if not wanted:
            raise InvalidParameter("device_ids", device_ids, "name at least one charger")
        found = set(fleet.filter(device_id__in=wanted).values_list("device_id", flat=True))
        missing = [d for d in wanted if d not in found]
        if missing:
            raise NotFound(
                f"Device '{missing[0]}' not found", {"field": "device_ids", "value": missing[0]}
            )
        chosen = Device.objects.filter(device_id__in=wanted)
    else:
        chosen = fleet
        if selection.get("model"):
            chosen = chosen.filter(model=selection["model"])
        if selection.get("firmware_versions"):
            chosen = chosen.filter(firmware_version__in=selection["firmware_versions"])
        if selection.get("site_ids"):
            site_ids = sorted(set(selection["site_ids"]))
            found = set(
                sites_of(actor.operator_id)
                .filter(site_id__in=site_ids)
                .values_list("site_id", flat=True)
            )
            missing = [s for s in site_ids if s not in found]
            if missing:
                raise NotFound(
                    f"Site '{missing[0]}' not found",
                    {"field": "selection.site_ids", "value": missing[0]},
                )
            chosen = chosen.filter(site_id__in=site_ids)
    # Lock the chargers (in one order, so two creations queue up rather than deadlock):
    # the second creation sees the first's rows once it gets the locks.
    return list(chosen.select_for_update().order_by("device_id"))


def _stage_of(stages: list[int], count: int) -> list[int]:
    """The stage index of each of `count` chargers in order: stage k ends at
    ceil(p_k * count / 100)."""
    ends = [math.ceil(percent * count / 100) for percent in stages]
    result, stage = [], 0
    for position in range(count):
        while position >= ends[stage]:
            stage += 1
        result.append(stage)
    return result


def create_campaign(
    actor: Actor,
    *,
    name: str,
    target_version: str,
    package_url: str,
    device_ids: list[str] | None = None,
    selection: dict[str, Any] | None = None,
    stages: list[int] | None = None,
    health_window_minutes: int = 30,
    halt_if: dict[str, Any] | None = None,
) -> FirmwareCampaign:
    """Start a rollout of `target_version` over the chargers named by `device_ids` or
    matched by `selection` (exactly one of them). Chargers already on the target, or held
    by another active campaign when chosen by selection, are recorded as skipped; held
    ones named by id are 409/4001. Nothing left to upgrade is 400/1001."""
    name = _check_text("name", name, FirmwareCampaign._meta.get_field("name").max_length)
    target_version = _check_text("target_version", target_version, 64)
    package_url = _package_url(package_url)
    if (device_ids is None) == (selection is None):
        raise InvalidParameter("device_ids", None, "give exactly one of device_ids and selection")
    stages = _stages(stages)
    if (
        isinstance(health_window_minutes, bool)
        or not isinstance(health_window_minutes, int)
        or not 0 <= health_window_minutes <= MAX_HEALTH_WINDOW_MINUTES
    ):
        raise InvalidParameter(
            "health_window_minutes",
            health_window_minutes,
            f"whole minutes from 0 to {MAX_HEALTH_WINDOW_MINUTES}",
        )
    rules = _halt_rules(halt_if)
    asked = (
        {"device_ids": sorted(set(device_ids))}
        if device_ids is not None
        else {key: value for key, value in (selection or {}).items() if value not in (None, [], "")}
    )
    try:
        with transaction.atomic():
            chargers = _selected(actor, device_ids, selection)
            held = {
                row.device_id: row.campaign
                for row in CampaignDevice.objects.select_related("campaign").filter(
                    holds=True, device__in=chargers
                )
            }
            if device_ids is not None and held:
                device_id = sorted(held)[0]
                other = held[device_id]
                raise Conflict(
                    f"Charger '{device_id}' is already in the firmware campaign "
                    f"“{other.name}” ({other.status})",
                    {"field": "device_ids", "value": device_id, "campaign_id": other.campaign_id},
                )
            now = timezone.now()
            campaign = FirmwareCampaign.objects.create(
                operator_id=actor.operator_id,
                name=name,
                target_version=target_version,
                package_url=package_url,
                selection=asked,
                stages=stages,
                health_window_minutes=health_window_minutes,
                halt_if=rules,
                created_by=actor.label[:150],
                created_at=now,
                stage_started_at=now,
                stage_starts=[now.isoformat()],
                rules_from=now,
            )
            skipped, upgrade = [], []
            for device in chargers:
                if device.firmware_version == target_version:
                    skipped.append((device, f"already on {target_version}"))
                elif device.device_id in held:
                    other = held[device.device_id]
                    skipped.append(
                        (device, f"in the firmware campaign “{other.name}” ({other.status})")
                    )
                else:
                    upgrade.append(device)
            if not upgrade:
                raise InvalidParameter(
                    "device_ids" if device_ids is not None else "selection",
                    None,
                    "no charger to upgrade: every one chosen is already on the target "
                    "version or in another campaign"
                    if chargers
                    else "no charger matches",
                )
            rows = [
                CampaignDevice(
                    campaign=campaign,
                    device=device,
                    stage=stage,
                    holds=True,
                    from_version=device.firmware_version,
                )
                for device, stage in zip(upgrade, _stage_of(stages, len(upgrade)), strict=True)
            ] + [
                CampaignDevice(
                    campaign=campaign,
                    device=device,
                    stage=0,
                    state=State.SKIPPED,
                    from_version=device.firmware_version,
                    reason=reason,
                    finished_at=now,
                )
                for device, reason in skipped
            ]
            CampaignDevice.objects.bulk_create(rows)
            audit.record(
                actor,
                action="create_firmware_campaign",
                resource_type="firmware_campaign",
                resource_id=campaign.campaign_id,
                details={
                    "name": name,
                    "target_version": target_version,
                    "package_url": package_url,
                    "selection": asked,
                    "stages": stages,
                    "health_window_minutes": health_window_minutes,
                    "halt_if": rules,
                    "chargers": len(upgrade),
                    "skipped": len(skipped),
                },
            )
            _announce(campaign)
    except IntegrityError:
        # The constraint behind the row locks: another campaign took a charger meanwhile.
        raise Conflict(
            "A charger was taken by another firmware campaign at the same moment; try again",
            {"field": "device_ids" if device_ids is not None else "selection"},
        ) from None
    return campaign


# --- Operator moves -------------------------------------------------------------------------


def _announce(campaign: FirmwareCampaign) -> None:
    campaign_id, operator_id = campaign.campaign_id, campaign.operator_id
    transaction.on_commit(
        lambda: firmware_campaign_changed.send(
            sender=FirmwareCampaign, campaign_id=campaign_id, operator_id=operator_id
        )
    )


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
    _announce(campaign)
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
    withdraw_undelivered(undelivered, "cancelled", "The firmware campaign was cancelled")
    return campaign


# --- The charger's answers ------------------------------------------------------------------


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
        _announce(row.campaign)


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
        _announce(row.campaign)


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


# --- The driver -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Halt:
    reason: str
    rule: str


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
        _announce(campaign)
        return 1
