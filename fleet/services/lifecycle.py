"""Commands that never finish: expiry before delivery, silence after delivery, and
execution that never reports a final status. Run by the periodic sweep (Celery beat);
expiry is also enforced at delivery time (fleet.services.commands never hands out an
expired command)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from fleet.live import messages
from fleet.live.publish import publish_device_message_sync
from fleet.models import Command, CommandStatusChange
from fleet.signals import command_changed

BATCH = 500


def _fail(queryset: QuerySet[Command], reason: str, message: str, now: datetime) -> list[Command]:
    """Fail a batch of commands, each with its history entry; skips rows another sweep
    holds, so two workers never fail the same command twice."""
    with transaction.atomic():
        commands = list(queryset.select_for_update(skip_locked=True).order_by("created_at")[:BATCH])
        for command in commands:
            command.status = Command.Status.FAILED
            command.result = {"reason": reason}
            command.save(update_fields=["status", "result", "updated_at"])
            CommandStatusChange.objects.create(
                command=command,
                status=Command.Status.FAILED,
                source=CommandStatusChange.Source.PLATFORM,
                message=message,
                details={"reason": reason},
            )
            command_changed.send(sender=Command, command=command)
    for command in commands:
        publish_device_message_sync(command.device_id, messages.command_status(command, reason))
    return commands


def expire_undelivered(now: datetime) -> list[Command]:
    """Queued and never handed out before its expiry → failed, reason `expired` (decision:
    command-expiry)."""
    return _fail(
        Command.objects.filter(
            status=Command.Status.QUEUED, delivered_at__isnull=True, expires_at__lte=now
        ),
        "expired",
        "Not delivered before its expiry",
        now,
    )


def fail_unanswered(now: datetime) -> list[Command]:
    """Delivered, but neither accepted nor rejected in time → failed, `no_response`."""
    limit = now - timedelta(seconds=settings.TELLUS_COMMAND_NO_RESPONSE_SECONDS)
    return _fail(
        Command.objects.filter(
            status=Command.Status.QUEUED, delivered_at__isnull=False, delivered_at__lte=limit
        ),
        "no_response",
        "Delivered but never acknowledged by the charger",
        now,
    )


def fail_stalled(now: datetime) -> list[Command]:
    """Accepted, but no final status in time → failed, `timeout`."""
    limit = now - timedelta(seconds=settings.TELLUS_COMMAND_EXECUTION_TIMEOUT_SECONDS)
    return _fail(
        Command.objects.filter(Q(status=Command.Status.ACCEPTED) & Q(updated_at__lte=limit)),
        "timeout",
        "Accepted but never completed",
        now,
    )


def withdraw_undelivered(command_ids: list[str], reason: str, message: str) -> list[Command]:
    """Fail these commands, as `reason`, if they are still queued and never handed out
    (a firmware campaign cancelled before its upgrade reached the charger). A command
    already delivered is left to the charger's answer."""
    if not command_ids:
        return []
    return _fail(
        Command.objects.filter(
            command_id__in=command_ids, status=Command.Status.QUEUED, delivered_at__isnull=True
        ),
        reason,
        message,
        timezone.now(),
    )
