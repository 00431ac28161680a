"""Celery: the detectors, run periodically next to the fleet sweep."""

import logging

from celery import shared_task
from django.utils import timezone

from diagnostics.services.detectors import run_detectors

logger = logging.getLogger(__name__)


@shared_task(name="diagnostics.detect", ignore_result=True)
def detect() -> dict[str, int]:
    counts = run_detectors(timezone.now())
    if any(counts.values()):
        logger.info("detectors: %s", counts)
    return counts
