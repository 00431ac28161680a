"""`make run`'s supervisor (console/devrun.py): the whole system with a simulated fleet,
stopped by one SIGTERM, every child with it.

It runs here on the test database and Redis with three chargers; the server must come up,
the chargers must be placed on the demo operator's sites with a past of a few days, their
telemetry must grow, and the logins must be the last thing printed once all of it is up.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.db import connection

from console.web.demo_logins import save_logins
from fleet.models import ChargingRecord, Device, TelemetrySample
from tests.live_server import REPO, UNLIMITED_RATES, database_url, eventually, free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server]


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    )


def test_the_demo_comes_up_alive_and_one_sigterm_stops_all_of_it(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        **UNLIMITED_RATES,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "TELLUS_VAR_DIR": str(tmp_path),
        "PORT": str(port),
        "CHARGERS": "3",
        "LOG_LEVEL": "WARNING",
    }
    call_command("load_diagnostics", verbosity=0)
    save_logins(tmp_path, {"demo-viewer": "viewer-pw", "demo-operator": "operator-pw"})
    log = (tmp_path / "devrun.log").open("wb")
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "console.devrun"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    try:
        eventually(
            lambda: Device.objects.exclude(site=None).count() == 3,
            timeout=90,
            what="three simulated chargers placed on the demo sites",
        )
        first = TelemetrySample.objects.count()
        eventually(
            lambda: TelemetrySample.objects.count() > first,
            timeout=90,
            what="telemetry growing",
        )
        eventually(
            lambda: "Passwords are kept in" in (tmp_path / "devrun.log").read_text(),
            timeout=120,
            what="the logins printed",
        )
        printed = (tmp_path / "devrun.log").read_text()
        up = printed.index("Tellus is running (server healthy, worker ready, fleet on its sites)")
        # Last: after the worker's start and the fleet's placement, not scrolled away.
        assert printed.index('"placed": 3') < up < printed.index("demo-operator  operator-pw")
        assert f"Console: http://127.0.0.1:{port}/" in printed[up:]
        assert "celery@" not in printed  # no worker banner
        assert "registered SIM-" not in printed  # no line per charger
        for device in Device.objects.all():  # each with a past, before it registered
            assert ChargingRecord.objects.filter(
                device=device, end_time__lt=device.registered_at
            ).exists()
        listing = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert listing.status_code == 200
        children = children_of(supervisor.pid)
        assert len(children) == 3  # server, worker, fleet

        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0
        eventually(
            lambda: not any(alive(child) for child in children),
            timeout=15,
            what="every child gone",
        )
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        log.close()
        call_command("flush", interactive=False, verbosity=0)
    text = (tmp_path / "devrun.log").read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]
