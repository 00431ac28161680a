"""Field cases of F-0421 (the contactor does not engage at session start): a cluster on
the affected build 3.0.1 ends diagnosed with the firmware upgrade to carry out; the same
fault on one charger on a fixed build (3.1.0) is no firmware cluster."""

from dataclasses import replace

import pytest

from diagnostics.models import Alert
from fleet.simulator import scenarios
from tests.live_server import eventually
from tests.scenarios.cases import CASES
from tests.scenarios.field import (
    assert_outcome,
    engineer,
    faults,
    field_fleet,
    start_from_alert,
    sweep,
    the_alert,
    walk,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_cluster_on_the_affected_build_is_diagnosed_for_a_firmware_upgrade(server, tmp_path):
    case = CASES["f0421-cluster"]
    with field_fleet(server, tmp_path, [case.scenario], chargers=3):
        eventually(lambda: faults("F-0421") >= 9, 120, "F-0421 three times on each of three")
        sweep()
        cluster = the_alert(case)
        assert cluster.subject == "F-0421@3.0.1"
        assert cluster.suggested_runbook == case.runbook
        # A cluster names no charger: the run starts from a clustered charger's own alert.
        repeat = Alert.objects.filter(detector="repeat_fault", fault_code="F-0421").first()
        assert repeat is not None and repeat.device.firmware_version == "3.0.1"
        assert repeat.suggested_runbook == case.runbook
        browser, actor = engineer()
        run = start_from_alert(browser, repeat)
        run, trail = walk(actor, run, case.answers, within=60)
    assert_outcome(run, case.outcome)
    assert [step for step, *_ in trail if step != "supply-power"][:1] == ["fault-log"], trail
    assert "firmware-cluster" in {step for step, *_ in trail}, trail


def test_the_same_fault_on_a_fixed_build_is_no_firmware_cluster(server, tmp_path, monkeypatch):
    case = CASES["f0421-fixed-build"]
    cluster = scenarios.SCENARIOS[case.scenario]
    one_on_a_fixed_build = replace(
        cluster,
        chargers=1,
        identity={"model": "TP-DC180", "firmware_version": "3.1.0"},
        # A worn contactor: the fault on any build, the fixed one included.
        behaviour={**cluster.behaviour, "contactor_fault_firmware": None},
    )
    monkeypatch.setitem(scenarios.SCENARIOS, case.scenario, one_on_a_fixed_build)
    with field_fleet(server, tmp_path, [case.scenario], chargers=1) as field:
        charger = field.device(case.scenario)
        eventually(lambda: faults("F-0421") >= 3, 120, "F-0421 three times")
        sweep()
        assert not Alert.objects.filter(detector="firmware_cluster").exists()
        alert = the_alert(case, charger)
        assert alert.suggested_runbook == case.runbook
        browser, actor = engineer()
        run = start_from_alert(browser, alert)
        # The reboot's check judges the charger 90 s after the reboot completed.
        run, trail = walk(actor, run, case.answers, within=180)
    assert_outcome(run, case.outcome)
    assert run.outcome_action in (None, {}), run.outcome_action
    steps = [step for step, *_ in trail]
    assert "firmware-rollout" not in steps, trail
