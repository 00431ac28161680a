"""Celery tasks: the periodic sweep over commands and device liveness, the legacy
outbox deliveries, and the driver of firmware campaigns."""

import logging

from celery import shared_task
from django.utils import timezone

from fleet.models import LegacyPush
from fleet.services import firmware_campaigns, legacy, lifecycle, liveness, signing

logger = logging.getLogger(__name__)


@shared_task(name="fleet.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """One pass of every periodic check; safe to run concurrently and to repeat."""
    now = timezone.now()
    counts = {
        "expired": len(lifecycle.expire_undelivered(now)),
        "no_response": len(lifecycle.fail_unanswered(now)),
        "timeout": len(lifecycle.fail_stalled(now)),
        "offline": len(liveness.mark_offline(now)),
        "reconnect_storms": len(liveness.detect_reconnect_storms(now)),
        "station_pushes": legacy.sync_station_statuses(),
        "signatures_forgotten": signing.forget_expired_signatures(now),
    }
    due = legacy.due_pushes(now)
    for push_id in due:  # the outbox is the source of truth: lost tasks are re-dispatched
        deliver_legacy_push.delay(push_id)
    counts["pushes_dispatched"] = len(due)
    if any(counts.values()):
        logger.info("sweep: %s", counts)
    return counts


@shared_task(name="fleet.drive_firmware_campaigns", ignore_result=True)
def drive_firmware_campaigns() -> int:
    """One tick of every running firmware campaign (each under its row lock, so two
    workers never drive one campaign at once)."""
    moved = firmware_campaigns.drive_campaigns()
    if moved:
        logger.info("firmware campaigns moved: %s", moved)
    return moved


@shared_task(name="fleet.deliver_legacy_push", ignore_result=True)
def deliver_legacy_push(push_id: int) -> str:
    """One attempt at an outbox push; a retry is scheduled for exactly when it is due
    (the sweep re-dispatches it too, should this worker die first)."""
    result = legacy.deliver_push(push_id)
    if result == "retry":
        push = LegacyPush.objects.get(pk=push_id)
        deliver_legacy_push.apply_async((push_id,), eta=push.next_attempt_at)
    elif result == "delivered":
        following = (
            LegacyPush.objects.filter(status=LegacyPush.Status.PENDING, id__gt=push_id)
            .filter(ordering_key=LegacyPush.objects.get(pk=push_id).ordering_key)
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        if following is not None:  # it was waiting for this one
            deliver_legacy_push.delay(following)
    return result


def enqueue_legacy_push(sender: object, push_id: int, **kwargs: object) -> None:
    """legacy_push_due receiver: hand the push to a worker (the outbox row is already
    committed, so a lost task is re-dispatched by the sweep). Runs after the commit of a
    charger's or partner's request: a broker outage must not fail that request."""
    try:
        deliver_legacy_push.apply_async((push_id,), retry=False)
    except Exception as error:  # kombu raises its own errors, not only redis-py's
        logger.warning("Legacy push %s not handed to a worker (%s); the sweep will", push_id, error)
