"""Detectors and checks after a charger changed operator: the new operator's alerts and
runbook checks count only what happened under it, never the previous operator's faults or
temperatures."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.checks import run_check
from diagnostics.models import Alert
from diagnostics.services import detectors
from diagnostics.services.runbooks.suggestions import device_signals
from fleet.actors import Actor
from fleet.models import TelemetrySample
from fleet.services import provisioning
from tests.history_world import CODES, transferred


@pytest.fixture
def pair(make_client, assigned_device, site_for):
    a, _ = make_client("Acme Charging")
    b, _ = make_client("Rival Energy")
    return a, b, assigned_device(a), site_for(b, "Harbour")


def test_the_new_operator_gets_no_alert_from_the_old_operators_faults(pair):
    a, b, device, _ = pair
    history = transferred(a, b, device, back=False)
    # Period 0's three faults (A's) and period 1's three (B's) are all recent.
    detectors.run_detector(detectors.repeat_fault, timezone.now())
    alerts = {
        (alert.operator_id, alert.fault_code, alert.fact_count) for alert in Alert.objects.all()
    }
    assert alerts == {(b.operator_id, CODES[1], 3)}
    assert history.device.site.operator_id == b.operator_id


def test_an_old_operators_hot_connector_raises_nothing_for_the_new_one(pair):
    _, _, device, harbour = pair
    TelemetrySample.objects.create(
        device=device, connector_id=1, timestamp=timezone.now() - timedelta(minutes=2),
        state="charging", voltage=400.0, current=20.0, power=30.0, energy_delivered=1.0,
        temperature=95.0,
    )  # fmt: skip
    provisioning.assign_device(Actor.platform(), device.device_id, harbour.site_id)
    detectors.run_detector(detectors.over_temperature, timezone.now())
    assert not Alert.objects.exists()


def test_checks_look_at_the_current_operators_time_only(pair):
    a, b, device, _ = pair
    transferred(a, b, device, back=False)
    device.refresh_from_db()
    found = run_check("code_present", device, fault_codes=(CODES[0], CODES[1]))
    assert [e["fault_code"] for e in found.evidence["found"]] == [CODES[1]] * 3
    pattern = run_check("fault_pattern", device)
    assert {e["fault_code"] for e in pattern.evidence["events"]} == {CODES[1]}


def test_runbook_suggestions_read_the_current_operators_time_only(pair):
    a, b, device, _ = pair
    history = transferred(a, b, device, back=False)
    device.refresh_from_db()
    signals = device_signals(device)
    # Both periods' faults are recent; only the new owner's count.
    assert signals.fault_codes == {CODES[1]}
    assert history.device.site.operator_id == b.operator_id
