"""Celery: the detectors, run periodically next to the fleet sweep."""

import logging
from typing import Any

from celery import shared_task
from django.utils import timezone

from diagnostics.services.detectors import run_detectors

logger = logging.getLogger(__name__)


@shared_task(name="diagnostics.detect", ignore_result=True)
def detect() -> dict[str, dict[str, Any]]:
    """Run the detectors. Failures were logged with their tracebacks by the sweep; this
    reports them once more in one line, and never raises."""
    report = run_detectors(timezone.now())
    failed = {name: r for name, r in report.items() if r["error"] or r["failed"]}
    if failed:
        logger.error("detectors failed: %s", failed)
    if any(r["opened"] or r["refreshed"] for r in report.values()):
        logger.info("detectors: %s", report)
    return report
