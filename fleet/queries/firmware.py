"""Firmware campaigns and the fleet's firmware versions, as their operator sees them."""

import re
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet

from fleet.errors import NotFound
from fleet.models import CampaignDevice, Device, FirmwareCampaign
from fleet.queries.filters import narrow

STATES = [state.value for state in CampaignDevice.State]


def campaigns(operator_id: str, status: str | None = None) -> QuerySet[FirmwareCampaign]:
    """The operator's campaigns, newest first; `status` filters."""
    return narrow(FirmwareCampaign.objects.filter(operator_id=operator_id), status=status).order_by(
        "-created_at", "-campaign_id"
    )


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _report(row: CampaignDevice) -> dict[str, Any] | None:
    if not row.report_status:
        return None
    return {
        "status": row.report_status,
        "progress": row.report_progress,
        "message": row.report_message,
        "at": row.report_at,
    }


def campaign_detail(operator_id: str, campaign_id: str) -> dict[str, Any]:
    """The campaign, its stages (percent, chargers per state, when each began and when
    its last charger finished) and every charger's row; another operator's or an
    unknown campaign is 3001."""
    campaign = FirmwareCampaign.objects.filter(
        operator_id=operator_id, campaign_id=campaign_id
    ).first()
    if campaign is None:
        raise NotFound(f"Firmware campaign '{campaign_id}' not found")
    rows = list(campaign.devices.select_related("device__site").order_by("stage", "device_id"))
    stages = []
    for index, percent in enumerate(campaign.stages):
        members = [row for row in rows if row.stage == index]
        counts = {state: sum(row.state == state for row in members) for state in STATES}
        started = (
            _when(campaign.stage_starts[index]) if index < len(campaign.stage_starts) else None
        )
        open_rows = any(row.state not in CampaignDevice.FINAL for row in members)
        finished = None
        if started is not None and not open_rows:
            finished = max((row.finished_at for row in members if row.finished_at), default=started)
            finished = max(finished, started)
        stages.append(
            {
                "index": index,
                "percent": percent,
                "chargers": len(members),
                "counts": counts,
                "started_at": started,
                "finished_at": finished,
            }
        )
    devices = [
        {
            "device_id": row.device_id,
            "serial": row.device.sn,
            "site_name": row.device.site.name if row.device.site else None,
            "stage": row.stage,
            "state": row.state,
            "from_version": row.from_version,
            "attempts": row.attempts,
            "command_id": row.command_id,
            "reason": row.reason,
            "last_report": _report(row),
            "finished_at": row.finished_at,
            "updated_at": row.updated_at,
        }
        for row in rows
    ]
    counts = {state: sum(row.state == state for row in rows) for state in STATES}
    return {"campaign": campaign, "stages": stages, "devices": devices, "counts": counts}


def _version_key(version: str) -> tuple:
    """Numbers compared as numbers (3.10.0 after 3.9.2), the rest as text."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.findall(r"\d+|[^\d.]+", version)
    )


def fleet_versions(operator_id: str) -> list[dict[str, Any]]:
    """Per model, the firmware versions its chargers in the operator's fleet run, with
    how many run each, oldest version first."""
    rows = (
        Device.objects.filter(site__operator_id=operator_id)
        .values("model", "firmware_version")
        .annotate(chargers=Count("pk"))
        .order_by()
    )
    models: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        models.setdefault(row["model"], []).append(
            {"firmware_version": row["firmware_version"], "chargers": row["chargers"]}
        )
    return [
        {
            "model": model,
            "chargers": sum(v["chargers"] for v in versions),
            "versions": sorted(versions, key=lambda v: _version_key(v["firmware_version"])),
        }
        for model, versions in sorted(models.items())
    ]
