"""Field case: a charger falls silent (F-0301), its site's network comes back, and the
power-up runbook's controlled reboot is judged only after the 90 s boot time, on a fresh
heartbeat. The wait is the runbook's own number, in real time."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.services.runbooks import engine
from fleet.models import Command, Device
from fleet.simulator import scenarios
from tests.live_server import eventually
from tests.scenarios.cases import CASES
from tests.scenarios.field import (
    SPEED,
    assert_outcome,
    engineer,
    field_fleet,
    sweep,
    the_alert,
    walk,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
CASE = CASES["heartbeat-loss"]
SILENT_FOR = 15 * SPEED  # simulated seconds: 15 s real


def test_a_silent_charger_is_resolved_only_after_the_reboot_and_its_boot_time(
    server, tmp_path, settings, monkeypatch
):
    settings.TELLUS_OFFLINE_AFTER_SECONDS = 4  # scaled down with the fleet's time
    silent_then_back = replace(
        scenarios.SCENARIOS[CASE.scenario],
        identity={"model": "TP-DC180", "firmware_version": "3.1.0"},
        behaviour={"silent_after_seconds": 120.0, "silent_for_seconds": float(SILENT_FOR)},
    )
    monkeypatch.setitem(scenarios.SCENARIOS, CASE.scenario, silent_then_back)
    with field_fleet(server, tmp_path, [CASE.scenario], chargers=1) as field:
        silent = field.device(CASE.scenario)
        eventually(lambda: _silent_for(silent, 5), 30, "the charger silent for 5 s")
        sweep()
        alert = the_alert(CASE, silent)
        assert alert.suggested_runbook == CASE.runbook  # no runbook lists F-0301
        _, actor = engineer()
        run = engine.start_run(actor, silent, "charger-faulting-on-power-up")
        run, trail = walk(actor, run, CASE.answers, within=240)
    assert_outcome(run, CASE.outcome)
    reboot = Command.objects.get(command_id=run.command_id)
    assert reboot.command == "reboot" and reboot.status == "completed"
    resolved_at = run.results.filter(step_key="reboot").order_by("-at").first().at
    assert resolved_at >= reboot.updated_at + timedelta(seconds=90)
    silent.refresh_from_db()
    assert silent.last_heartbeat > reboot.updated_at  # a heartbeat after the reboot
    assert ("reboot", "command", "") in trail, trail


def _silent_for(device: Device, seconds: float) -> bool:
    device.refresh_from_db()
    last = device.last_heartbeat
    return last is not None and timezone.now() - last > timedelta(seconds=seconds)
