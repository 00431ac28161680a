"""The periodic sweep on a real Celery worker with beat, against PostgreSQL and Redis."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from fleet.models import Command, Device, DeviceEvent
from fleet.services.commands import claim_commands_orm, queue_command

ROOT = Path(__file__).resolve().parents[2]
WORKER_SETTINGS = {
    "TELLUS_SWEEP_INTERVAL_SECONDS": "1",
    "TELLUS_OFFLINE_AFTER_SECONDS": "3",
    "TELLUS_COMMAND_NO_RESPONSE_SECONDS": "2",
    "TELLUS_COMMAND_EXECUTION_TIMEOUT_SECONDS": "3",
}


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """`celery -A console worker --beat` as its own process, on the test database."""
    with django_db_blocker.unblock():
        url = database_url()
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url,
        **WORKER_SETTINGS,
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "console",
                "worker",
                "--beat",
                "--pool=solo",
                "--loglevel=INFO",
                "-s",
                str(log.parent / "beat-schedule"),
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    deadline = time.time() + 60
    while "ready" not in log.read_text():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            pytest.fail(f"celery worker did not start:\n{log.read_text()}")
        time.sleep(0.3)
    yield process
    process.terminate()
    process.wait(20)


def eventually(check, seconds: float = 20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


@pytest.fixture
def device(transactional_db, make_client, assigned_device):
    return assigned_device(make_client()[0])


def test_worker_expires_undelivered_commands(celery_worker, device):
    command = queue_command(device, "start_charging", {}, connector_id=1, expires_in=1)

    def expired():
        command.refresh_from_db()
        return command.status == "failed" and command.result == {"reason": "expired"}

    assert eventually(expired)


def test_worker_fails_delivered_commands_without_an_answer(celery_worker, device):
    command = queue_command(device, "stop_charging", {}, connector_id=1)
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
