"""Field case: the car's battery management refuses every discharge (F-0702)."""

import pytest

from fleet.models import Command
from fleet.services import demo
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
CASE = CASES["v2g-refused"]
IN_FLIGHT = ("queued", "delivered", "accepted")


def test_a_refused_discharge_is_closed_on_the_vehicle_side(server, tmp_path):
    with field_fleet(server, tmp_path, [CASE.scenario], chargers=1) as field:
        refusing = field.device(CASE.scenario)

        def discharges_refused() -> bool:
            # The operator's half of the scenario, as simulate_fleet --provision plays it.
            demo.discharge_where_possible(field.client, [refusing.device_id])
            return faults("F-0702") >= 3

        eventually(discharges_refused, 120, "three discharges refused with F-0702")
        eventually(
            lambda: (
                not refusing.commands.filter(command="discharge", status__in=IN_FLIGHT).exists()
            ),
            30,
            "the last discharge answered",
        )
        sweep()
        alert = the_alert(CASE, refusing)
        assert alert.suggested_runbook == CASE.runbook
        browser, actor = engineer()
        run = start_from_alert(browser, alert)
        followed = Command.objects.get(command_id=run.command_id)
        assert followed.command == "discharge"
        run, _ = walk(actor, run, CASE.answers, within=60)
    assert_outcome(run, CASE.outcome)
