"""Whatever happens in whatever order (new fault events, sweeps, resolutions,
dismissals), an alert counts the distinct facts it covers and nothing else: sweeps never
count, a close covers every fact received until then, and a new alert opens only when
facts received after the last close meet the detector's rule on their own."""

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnostics.models import Alert
from diagnostics.services import detectors
from diagnostics.services.alerts import transition
from fleet.actors import Actor
from fleet.models import DeviceEvent

pytestmark = pytest.mark.django_db
CODE = "F-0805"


class Expected:
    """The rule, stated over fact numbers 0, 1, 2, … in the order they arrive."""

    def __init__(self) -> None:
        self.facts = 0
        self.uncovered_from = 0  # facts before this were covered by a closed alert
        self.open_from: int | None = None  # first fact of the open alert
        self.open_count: int | None = None  # what the open alert counted at the last sweep
        self.alerts = 0

    def sweep(self) -> None:
        if self.open_from is None and self.facts - self.uncovered_from >= 3:
            self.open_from, self.alerts = self.uncovered_from, self.alerts + 1
        if self.open_from is not None:
            self.open_count = self.facts - self.open_from

    def close(self) -> None:
        if self.open_from is not None:
            self.open_from, self.open_count, self.uncovered_from = None, None, self.facts


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["fault", "sweep", "resolve", "dismiss"]), max_size=30))
def test_an_alert_counts_the_fault_events_it_covers(device, steps):
    with transaction.atomic():  # each example starts from the same database
        expected = Expected()
        for step in steps:
            if step == "fault":
                DeviceEvent.objects.create(
                    device=device, connector_id=1, event_type="fault", fault_code=CODE,
                    timestamp=timezone.now(), data={},
                )  # fmt: skip
                expected.facts += 1
            elif step == "sweep":
                detectors.run_detector(detectors.repeat_fault, timezone.now())
                expected.sweep()
            else:
                open_alert = Alert.objects.filter(status__in=Alert.ACTIVE).first()
                if open_alert is not None:
                    status = "resolved" if step == "resolve" else "dismissed"
                    actor = Actor.platform(open_alert.operator_id)
                    transition(actor, open_alert.alert_id, status, "")
                expected.close()

            open_counts = list(
                Alert.objects.filter(status__in=Alert.ACTIVE).values_list("fact_count", flat=True)
            )
            assert open_counts == ([] if expected.open_count is None else [expected.open_count])
            assert Alert.objects.count() == expected.alerts
        transaction.set_rollback(True)
