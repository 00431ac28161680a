"""Field cases no runbook covers: a reconnect storm (F-0302) and an undocumented code.
Each opens its alert with no runbook to suggest (the console's start button says so),
and the engineer gets what the documentation gives instead."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from diagnostics.models import FaultCode, RunbookExecution
from diagnostics.queries.undocumented import latest_events, occurrences
from diagnostics.services.faults import undocumented_codes
from fleet.models import ConnectivityChange
from fleet.simulator import charger
from tests.live_server import eventually
from tests.scenarios.cases import CASES
from tests.scenarios.field import engineer, faults, field_fleet, sweep, the_alert

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def refused_start(alert) -> str:
    """Press the alert's start button: no run, and the words the console shows."""
    browser, _ = engineer()
    answer = browser.post(reverse("console:alert-run", args=[alert.alert_id]), follow=True)
    assert not RunbookExecution.objects.exists()
    return " ".join(str(message) for message in get_messages(answer.wsgi_request))


def test_a_reconnect_storm_suggests_no_runbook_and_points_to_the_dictionary(
    server, tmp_path, settings, monkeypatch
):
    case = CASES["reconnect-storm"]
    settings.TELLUS_OFFLINE_AFTER_SECONDS = 4
    monkeypatch.setattr(charger, "FLAP_OFFLINE_SECONDS", 3.0)
    with field_fleet(server, tmp_path, [case.scenario], chargers=1) as field:
        flapping = field.device(case.scenario)
        eventually(
            lambda: ConnectivityChange.objects.filter(device=flapping).count() > 6,
            90,
            "the flapping charger back more than five times",
        )
        sweep()
        alert = the_alert(case, flapping)
    assert alert.suggested_runbook == case.runbook
    assert "suggests no runbook" in refused_start(alert)
    entry = FaultCode.objects.get(code="F-0302")
    assert any("site network" in step["text"] for step in entry.diagnostic_steps)


def test_an_undocumented_code_gets_its_report_and_no_runbook(server, tmp_path):
    case = CASES["unknown-code"]
    with field_fleet(server, tmp_path, [case.scenario], chargers=1) as field:
        odd = field.device(case.scenario)
        eventually(lambda: faults("F-0999") >= 3, 120, "an undocumented code three times")
        sweep()
        alert = the_alert(case, odd)
    assert alert.suggested_runbook == case.runbook
    assert "suggests no runbook" in refused_start(alert)
    operator_id = field.client.operator_id
    [row] = undocumented_codes(operator_id)
    assert (row["fault_code"], row["devices"]) == ("F-0999", [odd.device_id])
    assert row["count"] >= 3 and row["first_seen"] <= row["last_seen"]
    newest = latest_events(operator_id, ["F-0999"], None, 3)["F-0999"]
    reports = occurrences(operator_id, newest)
    assert len(reports) == 3
    for report in reports:
        assert report.payload["fault_code"] == "F-0999"  # as sent
        assert report.firmware_version == odd.firmware_version
        assert report.telemetry, "the connector's telemetry around it"
        assert all(abs(s.offset) <= timedelta(minutes=5) for s in report.telemetry)
        assert report.timestamp <= timezone.now()
