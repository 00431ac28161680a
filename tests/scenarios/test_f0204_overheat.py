"""Field case: a failing fan lets the cabinet pass its critical limit (F-0204)."""

import pytest

from diagnostics.models import Alert
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
CASE = CASES["f0204-overheat"]


def test_an_overheated_cabinet_pauses_the_run_at_the_fault_log(server, tmp_path):
    with field_fleet(server, tmp_path, [CASE.scenario], chargers=1) as field:
        hot = field.device(CASE.scenario)
        eventually(lambda: faults("F-0204") >= 1, 120, "a cabinet past its critical limit")
        sweep()
        alert = the_alert(CASE, hot)
        assert alert.suggested_runbook == CASE.runbook
        # The fan warned first: its own alert, to book a visit.
        assert Alert.objects.filter(device=hot, detector="cooling_fan_slow").exists()
        browser, actor = engineer()
        run = start_from_alert(browser, alert)
        run, trail = walk(actor, run, CASE.answers, within=60)
    assert_outcome(run, CASE.outcome)
    assert [step for step, *_ in trail] == ["supply-power", "supply-power", "fault-log",
                                            "fault-log"], trail  # fmt: skip
