"""Commands for chargers: queueing, delivery (heartbeat or long poll, once), and the
status the charger reports back."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fleet import db
from fleet.actors import Actor
from fleet.errors import Conflict, NotFound
from fleet.live import messages
from fleet.live.publish import (
    announce_command,
    publish_device_message_sync,
    publish_device_messages_sync,
)
from fleet.models import Command, CommandStatusChange, Device
from fleet.services import audit
from fleet.signals import command_changed

# Which charger reports may follow which; a repeat of the current report is accepted as a
# retry and changes nothing.
_NEXT_DEVICE_STATUS = {
    "": {"accepted", "rejected", "completed", "failed"},
    "accepted": {"completed", "failed"},
    "rejected": set(),
    "completed": set(),
    "failed": set(),
}
_OPERATOR_STATUS = {
    "accepted": Command.Status.ACCEPTED,
    "rejected": Command.Status.FAILED,
    "completed": Command.Status.COMPLETED,
    "failed": Command.Status.FAILED,
}


@dataclass(frozen=True)
class Delivery:
    """A command as handed to a charger (the spec's PendingCommand)."""

    command_id: str
    command: str
    params: dict[str, Any]
    expires_at: datetime
    created_at: datetime

    def as_pending_command(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "command": self.command,
            "params": self.params,
            "expiry": self.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def queue_command(
    actor: Actor,
    device: Device,
    command: str,
    params: dict[str, Any] | None = None,
    *,
    connector_id: int | None = None,
    control_id: str = "",
    expires_in: int | None = None,
    publish: bool = True,
) -> Command:
    """Queue a command issued by `actor`; once it is committed, wake the charger's long
    poll and tell the device's watchers (`publish=False`: the caller publishes them, see
    publish_queued). Commands issued for an operator go to that operator's audit trail."""
    lifetime = expires_in if expires_in is not None else settings.TELLUS_COMMAND_EXPIRY_SECONDS
    with transaction.atomic():
        queued = Command.objects.create(
            device=device,
            connector_id=connector_id,
            command=command,
            params=params or {},
            expires_at=timezone.now() + timedelta(seconds=lifetime),
            control_id=control_id,
            **actor.command_fields(),
        )
        CommandStatusChange.objects.create(
            command=queued, status=Command.Status.QUEUED, source=CommandStatusChange.Source.OPERATOR
        )
        if actor.operator_id:
            audit.record(
                actor,
                action="execute_command",
                resource_type="device",
                resource_id=device.device_id,
                details={
                    "command_id": queued.command_id,
                    "command": command,
                    "params": params or {},
                    "connector_id": connector_id,
                },
            )
        transaction.on_commit(lambda: announce_command(device.device_id))
        if publish:  # open console pages list it as queued
            transaction.on_commit(
                lambda: publish_device_message_sync(
                    device.device_id, messages.command_status(queued)
                )
            )
    return queued


def publish_queued(commands: list[Command]) -> None:
    """Once committed, tell the watchers of each command's device that it is queued, all
    in one go (a control reaching every charger of a site)."""
    batch = [(command.device_id, messages.command_status(command)) for command in commands]
    transaction.on_commit(lambda: publish_device_messages_sync(batch))


# --- Delivery ------------------------------------------------------------------------------


def claim_commands_orm(
    device_id: str, connector_id: int | None, limit: int | None, via: str
) -> list[Delivery]:
    """Reference implementation (and the SQLite one): hand out queued, unexpired,
    undelivered commands, oldest first, marking them delivered."""
    now = timezone.now()
    with transaction.atomic():
        pending = Command.objects.select_for_update(skip_locked=True).filter(
            device_id=device_id,
            status=Command.Status.QUEUED,
            delivered_at__isnull=True,
            expires_at__gt=now,
        )
        if connector_id is not None:
            pending = pending.filter(Q(connector_id=connector_id) | Q(connector_id__isnull=True))
        pending = pending.order_by("created_at", "command_id")
        claimed = list(pending[:limit] if limit else pending)
        Command.objects.filter(pk__in=[c.pk for c in claimed]).update(
            delivered_at=now, delivered_via=via
        )
    return [
        Delivery(c.command_id, c.command, c.params, c.expires_at, c.created_at) for c in claimed
    ]


_CLAIM_SQL = """
UPDATE fleet_command SET delivered_at = %(now)s, delivered_via = %(via)s
WHERE command_id IN (
    SELECT command_id FROM fleet_command
    WHERE device_id = %(device_id)s AND status = 'queued' AND delivered_at IS NULL
      AND expires_at > %(now)s {connector_filter}
    ORDER BY created_at, command_id
    {limit}
    FOR UPDATE SKIP LOCKED
)
RETURNING command_id, command, params, expires_at, created_at
"""


async def _claim_commands_pg(
    device_id: str, connector_id: int | None, limit: int | None, via: str
) -> list[Delivery]:
    sql = _CLAIM_SQL.format(
        connector_filter=(
            "AND (connector_id = %(connector_id)s OR connector_id IS NULL)"
            if connector_id is not None
            else ""
        ),
        limit=f"LIMIT {int(limit)}" if limit else "",
    )
    params = {
        "now": timezone.now(),
        "via": via,
        "device_id": device_id,
        "connector_id": connector_id,
    }
    async with (await db.pg_pool()).connection() as conn:
        rows = await (await conn.execute(sql, params)).fetchall()
    deliveries = [Delivery(*row) for row in rows]
    return sorted(deliveries, key=lambda d: (d.created_at, d.command_id))


async def claim_commands(
    device_id: str, connector_id: int | None = None, limit: int | None = None, *, via: str
) -> list[Delivery]:
    if db.uses_postgres():
        return await _claim_commands_pg(device_id, connector_id, limit, via)
    return await sync_to_async(claim_commands_orm)(device_id, connector_id, limit, via)


# --- Status reports from the charger --------------------------------------------------------


def _operator_result(status: str, message: str | None, details: dict | None) -> dict | None:
    result = dict(details or {})
    if status in ("rejected", "failed"):
        result.setdefault("reason", message or status)
        result.setdefault("device_status", status)
    elif message:
        result.setdefault("message", message)
    return result or None


def report_command_status(
    device_id: str,
    command_id: str,
    status: str,
    reported_at: datetime,
    message: str | None = None,
    details: dict[str, Any] | None = None,
) -> Command:
    """Apply a charger's report on one of its own commands; illegal moves are 4001. Once
    committed, the device's watchers are told the command's status."""
    with transaction.atomic():
        command = (
            Command.objects.select_for_update()
            .filter(command_id=command_id, device_id=device_id)
            .first()
        )
        if command is None:
            raise NotFound(f"Command '{command_id}' not found")
        # Built at commit, from the command as this report left it; a retried report is
        # told again (a watcher may have missed the first), a refused one never, its
        # rollback dropping this.
        transaction.on_commit(
            lambda: publish_device_message_sync(device_id, messages.command_status(command))
        )
        if command.device_status == status:
            return command  # a retried report
        if command.status == Command.Status.FAILED and not command.device_status:
            raise Conflict(
                f"Command '{command_id}' already failed on the platform side",
                {"field": "status", "value": status, "current": command.status},
            )
        if status not in _NEXT_DEVICE_STATUS[command.device_status]:
            raise Conflict(
                f"Command '{command_id}' cannot go from '{command.device_status}' to '{status}'",
                {"field": "status", "value": status, "current": command.device_status},
            )
        command.device_status = status
        command.status = _OPERATOR_STATUS[status]
        if status != "accepted" or details:
            command.result = _operator_result(status, message, details)
        if command.delivered_at is None:
            command.delivered_at = timezone.now()
        command.save()
        CommandStatusChange.objects.create(
            command=command,
            status=status,
            source=CommandStatusChange.Source.CHARGER,
            message=message or "",
            details=details,
            reported_at=reported_at,
        )
        command_changed.send(sender=Command, command=command)
    return command
