"""The Celery app. Broker: Redis when REDIS_URL is set, else a filesystem transport
under var/ that needs no server (see console.settings)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def schedule_periodic_tasks(sender, **kwargs) -> None:
    from django.conf import settings

    sender.add_periodic_task(
        float(settings.TELLUS_SWEEP_INTERVAL_SECONDS), sender.signature("fleet.sweep"), name="sweep"
    )
    sender.add_periodic_task(
        float(settings.TELLUS_SWEEP_INTERVAL_SECONDS),
        sender.signature("diagnostics.detect"),
        name="detect",
    )
    sender.add_periodic_task(
        float(settings.TELLUS_CAMPAIGN_INTERVAL_SECONDS),
        sender.signature("fleet.drive_firmware_campaigns"),
        name="firmware-campaigns",
    )


@worker_ready.connect
def announce_ready(**kwargs) -> None:
    """`make run` waits for this file before it prints the logins (console/devrun.py)."""
    path = os.environ.get("TELLUS_WORKER_READY_FILE")
    if path:
        Path(path).touch()
