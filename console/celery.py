"""The Celery app. Broker: Redis when REDIS_URL is set, else a filesystem transport
under var/ that needs no server (see console.settings)."""

import os

from celery import Celery

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
