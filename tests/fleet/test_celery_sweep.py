"""The periodic sweep on a real Celery worker with beat, against PostgreSQL and Redis."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import Command, Device, DeviceEvent
from fleet.services.commands import claim_commands_orm, queue_command
from tests.celery_worker import WorkerProcess, eventually, worker_database_url

WORKER_SETTINGS = {
    "TELLUS_SWEEP_INTERVAL_SECONDS": "1",
    "TELLUS_OFFLINE_AFTER_SECONDS": "3",
    "TELLUS_COMMAND_NO_RESPONSE_SECONDS": "2",
    "TELLUS_COMMAND_EXECUTION_TIMEOUT_SECONDS": "3",
}


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """`celery -A console worker --beat` as its own process, on the test database.

    One worker per test, and it asks for the database first so that it stops
    before the database is flushed: a sweep still running during the flush's
    TRUNCATE deadlocks with it (seen in CI).
    """
    worker = WorkerProcess(tmp_path, worker_database_url(), WORKER_SETTINGS)
    worker.start()
    yield worker
    worker.stop()


def test_worker_expires_undelivered_commands(celery_worker, device):
    command = queue_command(
        Actor.platform(), device, "start_charging", {}, connector_id=1, expires_in=1
    )

    def expired():
        command.refresh_from_db()
        return command.status == "failed" and command.result == {"reason": "expired"}

    assert eventually(expired)


def test_worker_fails_delivered_commands_without_an_answer(celery_worker, device):
    command = queue_command(Actor.platform(), device, "stop_charging", {}, connector_id=1)
    claim_commands_orm(device.device_id, 1, 1, "heartbeat")

    def unanswered():
        command.refresh_from_db()
        return command.result == {"reason": "no_response"}

    assert eventually(unanswered)


def test_worker_takes_silent_devices_offline_with_f0301(celery_worker, device):
    Device.objects.filter(pk=device.pk).update(
        status="online", last_heartbeat=timezone.now() - timedelta(seconds=10)
    )

    def offline():
        return (
            Device.objects.get(pk=device.pk).status == "offline"
            and DeviceEvent.objects.filter(device=device, fault_code="F-0301").exists()
        )

    assert eventually(offline)
    assert Command.objects.count() == 0
