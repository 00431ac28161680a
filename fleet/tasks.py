"""Celery tasks: the periodic sweep over commands and device liveness."""

import logging

from celery import shared_task
from django.utils import timezone

from fleet.services import lifecycle, liveness

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
    }
    if any(counts.values()):
        logger.info("sweep: %s", counts)
    return counts
