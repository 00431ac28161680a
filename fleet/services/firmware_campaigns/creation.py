"""Creating a campaign: the chargers it takes (by id or by a selection), their stages, and
the one-active-campaign-per-charger rule."""

import math
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.models import CampaignDevice, Device, FirmwareCampaign
from fleet.services import audit
from fleet.services.firmware_campaigns.rules import (
    MAX_HEALTH_WINDOW_MINUTES,
    State,
    announce,
    checked_halt_rules,
    checked_package_url,
    checked_stages,
    checked_text,
)
from fleet.services.tenancy import devices_of, sites_of


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
    name = checked_text("name", name, FirmwareCampaign._meta.get_field("name").max_length)
    target_version = checked_text("target_version", target_version, 64)
    package_url = checked_package_url(package_url)
    if (device_ids is None) == (selection is None):
        raise InvalidParameter("device_ids", None, "give exactly one of device_ids and selection")
    stages = checked_stages(stages)
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
    rules = checked_halt_rules(halt_if)
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
            announce(campaign)
    except IntegrityError:
        # The constraint behind the row locks: another campaign took a charger meanwhile.
        raise Conflict(
            "A charger was taken by another firmware campaign at the same moment; try again",
            {"field": "device_ids" if device_ids is not None else "selection"},
        ) from None
    return campaign
