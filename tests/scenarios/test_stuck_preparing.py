"""Field case: vehicles wait in preparing at a charger that never sees them authorised."""

from datetime import timedelta

import pytest

from diagnostics.models import Alert
from diagnostics.services import detectors
from tests.live_server import eventually
from tests.scenarios.cases import CASES
from tests.scenarios.field import (
    assert_outcome,
    engineer,
    field_fleet,
    start_from_alert,
    sweep,
    the_alert,
    walk,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
CASE = CASES["stuck-preparing"]


def test_stuck_in_preparing_is_handed_to_the_partner_cpms(server, tmp_path, monkeypatch):
    # The stuck time scaled down as the fleet's time is scaled up (100x).
    monkeypatch.setattr(detectors, "STUCK_PREPARING", timedelta(seconds=2))
    with field_fleet(server, tmp_path, [CASE.scenario], chargers=1) as field:
        stuck = field.device(CASE.scenario)
        eventually(
            lambda: stuck.connectors.filter(state="preparing").exists(),
            60,
            "a vehicle waiting in preparing",
        )
        eventually(lambda: bool(sweep()) and _alerted(), 30, "the stuck-in-preparing alert")
        alert = the_alert(CASE, stuck)
        assert alert.suggested_runbook == CASE.runbook
        browser, actor = engineer()
        run = start_from_alert(browser, alert)
        assert run.connector_id == alert.evidence["connector_id"]
        run, trail = walk(actor, run, CASE.answers, within=60)
    assert_outcome(run, CASE.outcome)
    assert [step for step, *_ in trail] == ["vehicle-handshake", "auth", "auth"], trail


def _alerted() -> bool:
    return Alert.objects.filter(detector=CASE.detector).exists()
