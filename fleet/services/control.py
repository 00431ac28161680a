"""Operator control of chargers: start, stop, discharge, schedules and load flexibility.

The operator API and the console both call these; every command records who issued it
and from where (the start of the audit trail).
"""

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, MissingParameter, NotFound
from fleet.models import Command, Connector, Control, Device, Schedule
from fleet.services.commands import publish_queued, queue_command
from fleet.services.tenancy import devices_of, get_device_for_operator, sites_of


def _connector(actor: Actor, device_id: str, connector_id: int) -> tuple[Device, Connector]:
    device = get_device_for_operator(actor.operator_id, device_id)
    connector = Connector.objects.filter(device=device, connector_id=connector_id).first()
    if connector is None:
        raise NotFound(f"Connector {connector_id} of device '{device_id}' not found")
    return device, connector


def start_charging(actor: Actor, device_id: str, connector_id: int, params: dict) -> Command:
    """Queue a remote start; a second start while one is still queued is 4001."""
    device, _ = _connector(actor, device_id, connector_id)
    with transaction.atomic():
        # Lock the device row so two concurrent starts cannot both see "nothing queued".
        Device.objects.select_for_update().filter(pk=device.pk).first()
        pending = Command.objects.filter(
            device=device,
            connector_id=connector_id,
            command="start_charging",
            status=Command.Status.QUEUED,
            expires_at__gt=timezone.now(),
        ).first()
        if pending is not None:
            raise Conflict(
                f"A start is already queued on connector {connector_id}",
                {"field": "connector_id", "value": connector_id, "command_id": pending.command_id},
            )
        return queue_command(actor, device, "start_charging", params, connector_id=connector_id)


def stop_charging(actor: Actor, device_id: str, connector_id: int, params: dict) -> Command:
    device, _ = _connector(actor, device_id, connector_id)
    return queue_command(actor, device, "stop_charging", params, connector_id=connector_id)


def discharge(actor: Actor, device_id: str, connector_id: int, params: dict) -> Command:
    """V2G discharge; refused (1001) on hardware not known to be V2G-capable (decision:
    v2g-only-discharge)."""
    device, _ = _connector(actor, device_id, connector_id)
    if not device.v2g_capable:
        raise InvalidParameter(
            "device_id", device_id, "Device is not V2G-capable; discharge is not possible"
        )
    return queue_command(actor, device, "discharge", params, connector_id=connector_id)


def set_schedule(actor: Actor, device_id: str, connector_id: int, plan: dict) -> Command:
    """Store the plan on the connector (upsert by schedule_id; `enabled: false` turns it off) and
    send it to the charger as `set_schedule` (decision: schedule-answer)."""
    if plan["type"] == "weekly":
        for index, slot in enumerate(plan["time_slots"]):
            if not slot.get("day_of_week"):
                raise MissingParameter(
                    f"time_slots.{index}.day_of_week", "day_of_week is required for weekly plans"
                )
    device, _ = _connector(actor, device_id, connector_id)
    if not device.v2g_capable and any(s["action"] == "discharge" for s in plan["time_slots"]):
        raise InvalidParameter(
            "time_slots", "discharge", "Device is not V2G-capable; discharge slots are refused"
        )
    with transaction.atomic():
        command = queue_command(actor, device, "set_schedule", plan, connector_id=connector_id)
        Schedule.objects.update_or_create(
            device=device,
            connector_id=connector_id,
            schedule_id=plan["schedule_id"],
            defaults={
                "enabled": plan["enabled"],
                "type": plan["type"],
                "time_slots": plan["time_slots"],
                "target_soc": plan.get("target_soc"),
                "effective_from": _parse(plan.get("effective_from")),
                "effective_until": _parse(plan.get("effective_until")),
                "timezone": plan.get("timezone") or "",
                "last_command_id": command.command_id,
            },
        )
    return command


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


# --- Flexibility ---------------------------------------------------------------------------


def _flexibility_targets(actor: Actor, target_type: str, target_ids: list[str]):
    if target_type == "all":
        return devices_of(actor.operator_id)  # everything the caller can see (decision: tenancy)
    if not target_ids:
        raise MissingParameter("target_ids")
    if target_type == "site":
        found = set(sites_of(actor.operator_id).filter(site_id__in=target_ids).values_list(
            "site_id", flat=True
        ))  # fmt: skip
        missing = [t for t in target_ids if t not in found]
        if missing:
            raise NotFound(
                f"Site '{missing[0]}' not found", {"field": "target_ids", "value": missing}
            )
        return devices_of(actor.operator_id).filter(site_id__in=target_ids)
    foreign = [t for t in target_ids if t != actor.operator_id]
    if foreign:
        raise NotFound(
            f"Operator '{foreign[0]}' not found", {"field": "target_ids", "value": foreign}
        )
    return devices_of(actor.operator_id)


def device_command_for(command: str, params: dict) -> tuple[str, dict]:
    """Flexibility command → what the charger receives. `pause_charging` has no v1.3 device
    command, so it goes out as a 0 % power limit every v1.3 charger understands (decision:
    pause-as-limit)."""
    if command == "pause_charging":
        return "set_power_limit", {
            "power_limit_percent": 0,
            "duration": params["duration"],
            "reason": params.get("reason", "pause_charging"),
            "mode": "pause",
        }
    return "set_power_limit", dict(params)


def limit_device(actor: Actor, device_id: str, command: str, params: dict) -> Command:
    """Limit or pause one charger: the device command a flexibility control would send it,
    queued for that charger alone (no control: the API's controls target sites or
    operators). `params` are already validated by the flexibility params schema."""
    device = get_device_for_operator(actor.operator_id, device_id)
    if command not in ("set_power_limit", "pause_charging"):
        raise InvalidParameter("command", command, "set_power_limit or pause_charging")
    device_command, device_params = device_command_for(command, params)
    return queue_command(actor, device, device_command, device_params)


def flexibility(
    actor: Actor, target_type: str, target_ids: list[str], command: str, params: dict
) -> tuple[Control, list[Command]]:
    """One control, one device-wide command per affected charger; the limit lapses on the
    charger when `duration` ends."""
    devices = list(_flexibility_targets(actor, target_type, target_ids).order_by("device_id"))
    device_command, device_params = device_command_for(command, params)
    with transaction.atomic():
        control = Control.objects.create(
            target_type=target_type,
            target_ids=target_ids,
            command=command,
            params=params,
            **actor.command_fields(),
        )
        commands = [
            queue_command(
                actor,
                device,
                device_command,
                {**device_params, "control_id": control.control_id},
                control_id=control.control_id,
                publish=False,
            )
            for device in devices
        ]
        publish_queued(commands)  # the site page's control progress counts them queued
    return control, commands


def control_summary(operator_id: str, control_id: str) -> dict[str, Any] | None:
    """A control read as a command (decision: control-status): its status summarises its
    per-charger commands."""
    control = Control.objects.filter(control_id=control_id, operator_id=operator_id).first()
    if control is None:
        return None
    commands = list(
        Command.objects.filter(control_id=control_id).values_list(
            "command_id", "device_id", "status", "updated_at"
        )
    )
    statuses = [status for _, _, status, _ in commands]
    counts = {status: statuses.count(status) for status in Command.Status.values}
    if not commands or counts["completed"] == len(commands):
        overall = "completed"
    elif counts["queued"] == len(commands):
        overall = "queued"
    elif counts["completed"] + counts["failed"] == len(commands):
        overall = "failed"
    else:
        overall = "accepted"
    updated = max((u for *_, u in commands), default=control.created_at)
    return {
        "command_id": control.control_id,
        "status": overall,
        "created_at": control.created_at,
        "updated_at": updated,
        "result": {
            "control": control.command,
            "target_type": control.target_type,
            "target_ids": control.target_ids,
            "commands": len(commands),
            "by_status": counts,
            "command_ids": [c for c, *_ in commands],
        },
        "command": control.command,
    }
