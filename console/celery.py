"""The Celery app. Broker: Redis when REDIS_URL is set, else a filesystem transport
under var/ that needs no server (see console.settings)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
