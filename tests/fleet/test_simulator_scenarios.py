"""Each field case the simulator acts out is caught by the platform's detectors, with
the runbook the alert suggests. The fleet runs at 100x against a live server; the
detectors and the liveness sweep run here, as the Celery beat would run them."""

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.models import Alert
from diagnostics.services import detectors
from diagnostics.services.detectors import run_detectors
from fleet.models import ConnectivityChange, Device
from fleet.services import demo, liveness
from fleet.simulator import charger
from fleet.simulator.fleet import FleetOptions
from tests.fleet.test_simulator import RunningFleet
from tests.live_server import LiveServer, eventually
from tests.scenarios.field import faults, field_server, serial_in

pytestmark = pytest.mark.django_db(transaction=True)

SCENARIOS = [
    "f0421-cluster",
    "f0204-overheat",
    "unknown-code",
    "heartbeat-loss",
    "stuck-preparing",
    "v2g-refused",
    "reconnect-storm",
]


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with field_server(tmp_path) as live:
        yield live


def test_every_field_case_opens_its_alert(server, tmp_path, settings, monkeypatch):
    # Real-time thresholds, scaled down as the fleet's time is scaled up (100x).
    settings.TELLUS_OFFLINE_AFTER_SECONDS = 4
    monkeypatch.setattr(detectors, "STUCK_PREPARING", timedelta(seconds=2))
    monkeypatch.setattr(charger, "FLAP_OFFLINE_SECONDS", 3.0)
    options = FleetOptions(
        base_url=server.url,
        chargers=10,
        scenarios=SCENARIOS,
        seed=11,
        speed=100,
        state_file=tmp_path / "fleet.json",
    )
    with RunningFleet(options):
        eventually(lambda: Device.objects.count() == 10, 60, "ten chargers registered")
        client, _ = demo.ensure_operator_client("Field Cases")
        sites = demo.ensure_sites(client, 3)
        placed = [{"device_id": d.device_id, "model": d.model} for d in Device.objects.all()]
        demo.place_chargers(placed, sites)

        eventually(lambda: faults("F-0421") >= 9, 90, "F-0421 three times on each of three")
        eventually(lambda: faults("F-0999") >= 3, 90, "an undocumented code three times")
        eventually(lambda: faults("F-0204") >= 1, 90, "a cabinet past its critical limit")
        stuck = Device.objects.get(sn=serial_in(tmp_path, "stuck-preparing"))
        eventually(
            lambda: stuck.connectors.filter(state="preparing").exists(),
            60,
            "a vehicle waiting in preparing",
        )
        refusing = Device.objects.get(sn=serial_in(tmp_path, "v2g-refused"))

        def discharges_refused() -> bool:
            # The operator's half of the scenario, as simulate_fleet --provision plays it.
            demo.discharge_where_possible(client, [refusing.device_id])
            return faults("F-0702") >= 3

        eventually(discharges_refused, 120, "three discharges refused with F-0702")
        flapping = Device.objects.get(sn=serial_in(tmp_path, "reconnect-storm"))
        eventually(
            lambda: ConnectivityChange.objects.filter(device=flapping).count() > 6,
            60,
            "the flapping charger back more than five times",
        )
        time.sleep(settings.TELLUS_OFFLINE_AFTER_SECONDS + 1)
        silent = liveness.mark_offline(timezone.now())
        stormy = liveness.detect_reconnect_storms(timezone.now())
        report = run_detectors(timezone.now())

    assert len(silent) == 1, silent  # only the heartbeat-loss charger
    assert stormy == [flapping.device_id]
    assert not any(r["error"] or r["failed"] for r in report.values()), report
    alerts = {(a.detector, a.fault_code): a for a in Alert.objects.all()}
    cluster = alerts[("firmware_cluster", "F-0421")]
    assert "3.0.1" in cluster.subject
    assert cluster.fact_count >= 3
    assert alerts[("repeat_fault", "F-0421")].suggested_runbook
    assert ("repeat_fault", "F-0999") in alerts
    hot = alerts[("over_temperature", "F-0203")]  # the connector passed 75 °C (DC)
    assert hot.device.model == "TP-DC180"
    assert faults("F-0204") >= 1  # then the cabinet cut its output
    waiting = alerts[("stuck_preparing", "")]
    assert waiting.device == stuck
    assert waiting.suggested_runbook == "connector-stuck-preparing"
    refused = alerts[("repeat_fault", "F-0702")]
    assert refused.device == refusing
    assert refused.suggested_runbook == "v2g-discharge-not-flowing"
    failed = refusing.commands.filter(command="discharge", status="failed")
    assert failed.count() >= 3
    assert {c.result["fault_code"] for c in failed} == {"F-0702"}
    storm = alerts[("reconnect_storm", "F-0302")]
    assert storm.device == flapping
    heartbeat = alerts[("heartbeat_lost", "F-0301")]
    assert heartbeat.device.device_id == silent[0]
    repeat_devices = set(
        Alert.objects.filter(detector="repeat_fault", fault_code="F-0421").values_list(
            "device__firmware_version", flat=True
        )
    )
    assert repeat_devices == {"3.0.1"}
