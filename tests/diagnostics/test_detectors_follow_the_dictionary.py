"""The detectors raise alerts by the fault dictionary's and the runbooks' own rules: the
firmware-cohort rule (one code on one firmware version at two or more chargers on two or
more sites within 7 days) and only for the code it is written for; a code's own recurrence
rule (F-0411 more than once a day: a site visit); the V2G runbook's trigger for a discharge
with no power flowing; and the thermal codes that call for action at their first report."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.checks import FAIL, PASS, run_check
from diagnostics.models import Alert, AlertTransition, FaultCode
from diagnostics.services import detectors
from diagnostics.services.alerts import transition
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.actors import Actor
from fleet.models import AuditEntry, Command, DeviceEvent, TelemetrySample
from fleet.services.commands import queue_command, report_command_status
from fleet.services.events import record_event
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def device(acme, assigned_device):
    return assigned_device(acme[0], model="TP-DC180", firmware_version="3.0.1")


@pytest.fixture
def charger_on_site(acme, assigned_device, site_for):
    """Another TP-DC180 on 3.0.1 of the same operator, on a site of its own (or `on`)."""

    def make(name: str, on=None, firmware_version: str = "3.0.1"):
        return assigned_device(
            acme[0], on or site_for(acme[0], name), firmware_version=firmware_version
        )

    return make


def event(device, code, minutes_ago=1.0, event_type="fault", **data):
    """A coded event as the device API stores it."""
    return record_event(
        device.device_id,
        event_type,
        1,
        timezone.now() - timedelta(minutes=minutes_ago),
        {"fault_code": code, **data},
    )


def sweep(detector, now=None):
    return detectors.run_detector(detector, now or timezone.now())


def alerts(detector):
    return list(Alert.objects.filter(detector=detector).order_by("created_at"))


# --- The firmware-cohort rule -------------------------------------------------------------------


def test_one_code_on_one_firmware_at_two_chargers_on_two_sites_is_a_firmware_cluster(
    device, charger_on_site
):
    other = charger_on_site("Harbour")
    event(device, "F-0421", 30)
    event(other, "F-0421", 20)
    assert sweep(detectors.firmware_cluster).opened == 1
    (alert,) = alerts("firmware_cluster")
    assert (alert.subject, alert.severity, alert.fact_count) == ("F-0421@3.0.1", "high", 2)
    assert (alert.evidence["devices"], alert.evidence["sites"]) == (2, 2)
    assert alert.title == "F-0421 on 2 chargers at 2 sites running firmware 3.0.1"


def test_chargers_on_a_single_site_are_no_firmware_cluster_however_many(device, charger_on_site):
    for n in range(3):
        event(charger_on_site(f"Depot {n}", on=device.site), "F-0421", 10 + n)
    event(device, "F-0421", 5)
    assert sweep(detectors.firmware_cluster).opened == 0
    assert not Alert.objects.exists()


def test_a_firmware_cluster_counts_the_chargers_of_one_firmware_version(device, charger_on_site):
    event(device, "F-0421", 10)
    event(charger_on_site("Harbour"), "F-0421", 5)
    event(charger_on_site("Airport", firmware_version="3.0.2"), "F-0421", 5)
    assert sweep(detectors.firmware_cluster).opened == 1
    (alert,) = alerts("firmware_cluster")
    assert (alert.subject, alert.fact_count) == ("F-0421@3.0.1", 2)


@pytest.mark.parametrize(
    ("others", "cluster"),
    [(["Harbour"], True), (["Depot", "Depot"], False)],
    ids=["two chargers, two sites", "three chargers, one site"],
)
def test_the_detector_raises_a_firmware_cluster_exactly_when_the_runbook_check_finds_one(
    device, charger_on_site, others, cluster
):
    event(device, "F-0421", 10)  # on "Depot"
    for name in others:
        event(charger_on_site(name, on=device.site if name == "Depot" else None), "F-0421", 5)
    found = run_check("fleet_cluster", device, fault_code="F-0421")
    assert found.outcome == (PASS if cluster else FAIL)  # passes when firmware-related
    assert sweep(detectors.firmware_cluster).opened == (1 if cluster else 0)


def test_a_cluster_closed_then_seen_again_needs_two_sites_in_the_new_facts(device, charger_on_site):
    other = charger_on_site("Harbour")
    event(device, "F-0421", 30)
    event(other, "F-0421", 20)
    sweep(detectors.firmware_cluster)
    (first,) = alerts("firmware_cluster")
    engineer = Actor("user", operator_id=first.operator_id, username="field.engineer")
    transition(engineer, first.alert_id, "resolved", "firmware rolled out")
    neighbour = charger_on_site("Neighbour", on=device.site)
    event(device, "F-0421", 0.5)
    event(neighbour, "F-0421", 0.2)  # two chargers since, but on one site
    assert sweep(detectors.firmware_cluster).opened == 0
    event(other, "F-0421", 0.1)
    assert sweep(detectors.firmware_cluster).opened == 1


# --- Only the code the cohort rule is written for -----------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["F-0301", "F-0302", "F-0702", "F-0805"],
    ids=["site network: heartbeat", "site network: reconnects", "vehicle refusal", "other"],
)
def test_only_f0421_has_a_firmware_cohort_rule(device, charger_on_site, code):
    others = [charger_on_site(name) for name in ("Harbour", "Airport")]
    for unit in (device, *others):
        event(unit, code, 5)
    assert sweep(detectors.firmware_cluster).opened == 0
    assert not Alert.objects.filter(detector="firmware_cluster").exists()


def cluster_alert(device, code, **fields):
    """A firmware-cluster alert as the detector opened them before it kept to F-0421: of
    the operator, on no charger."""
    opened = factories.alert(
        device, detector="firmware_cluster", subject=f"{code}@3.0.1", fault_code=code, **fields
    )
    Alert.objects.filter(pk=opened.pk).update(device=None, site_id=None)
    return opened


def test_an_active_firmware_cluster_of_another_code_is_resolved_by_the_platform(device):
    stale = cluster_alert(device, "F-0301", fact_count=3)
    kept = cluster_alert(device, "F-0421", status="acknowledged", fact_count=2)
    sweep(detectors.firmware_cluster)
    stale.refresh_from_db()
    kept.refresh_from_db()
    assert stale.status == "resolved" and stale.closed_at is not None
    assert kept.status == "acknowledged"
    move = AlertTransition.objects.get(alert=stale)
    assert (move.from_status, move.to_status) == ("open", "resolved")
    assert "firmware" in move.note and "F-0301" not in move.note
    entry = AuditEntry.objects.get(action="resolve_alert", resource_id=stale.alert_id)
    assert entry.details["reason"] == "not_a_firmware_code"
    assert entry.operator_id == stale.operator_id

    sweep(detectors.firmware_cluster)  # once closed, left alone
    assert AlertTransition.objects.filter(alert=stale).count() == 1


# --- A code's own recurrence rule ----------------------------------------------------------------


def test_f0411_more_than_once_a_day_calls_for_a_site_visit(device):
    event(device, "F-0411", 25 * 60)  # yesterday's
    event(device, "F-0411", 10)
    assert sweep(detectors.repeat_fault).opened == 0  # once a day is a soft reset's job
    event(device, "F-0411", 5)
    assert sweep(detectors.repeat_fault).opened == 1
    (alert,) = alerts("repeat_fault")
    assert (alert.fault_code, alert.fact_count, alert.severity) == ("F-0411", 2, "high")
    assert alert.title == "F-0411 reported 2 times: more than once a day calls for a site visit"
    assert alert.evidence["rule"] == "more than once a day calls for a site visit"


def test_the_recurrence_threshold_is_read_from_the_fault_dictionary(device):
    FaultCode.objects.filter(code="F-0411").update(
        thresholds={"site_visit_above_timeouts_per_day": 2}
    )
    event(device, "F-0411", 30)
    event(device, "F-0411", 20)
    assert sweep(detectors.repeat_fault).opened == 0
    event(device, "F-0411", 10)
    assert sweep(detectors.repeat_fault).opened == 1
    assert alerts("repeat_fault")[0].title.endswith(
        "more than 2 times a day calls for a site visit"
    )


def test_a_code_without_a_recurrence_rule_repeats_at_three_a_day(device):
    event(device, "F-0805", 30)
    event(device, "F-0805", 20)
    assert sweep(detectors.repeat_fault).opened == 0
    event(device, "F-0805", 10)
    assert sweep(detectors.repeat_fault).opened == 1
    (alert,) = alerts("repeat_fault")
    assert alert.title == "F-0805 reported 3 times"
    assert alert.evidence["rule"] == "3 or more times within 24 hours"


# --- Discharge initiated, power not flowing (V2G runbook trigger) --------------------------------


def discharge(device, minutes_ago=3.0):
    command = queue_command(
        Actor.platform(), device, "discharge", {"discharge_power": 11}, connector_id=1
    )
    Command.objects.filter(pk=command.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    command.refresh_from_db()
    return command


def sample(device, seconds_from_now, state, power):
    TelemetrySample.objects.create(
        device=device, connector_id=1, state=state, power=power, voltage=400,
        current=power / 0.4, energy_delivered=0.1,
        timestamp=timezone.now() + timedelta(seconds=seconds_from_now),
    )  # fmt: skip


@pytest.mark.parametrize(
    "reports",
    [[], ["accepted"], ["rejected"], ["failed"], ["accepted", "completed"]],
    ids=["queued", "accepted", "refused", "failed", "completed"],
)
def test_a_discharge_with_no_power_since_its_request_raises_the_alert_whatever_its_status(
    device, reports
):
    command = discharge(device)
    for status in reports:
        report_command_status(device.device_id, command.command_id, status, timezone.now())
    assert sweep(detectors.discharge_without_power).opened == 1
    (alert,) = alerts("discharge_no_power")
    assert (alert.subject, alert.severity) == (command.command_id, "high")
    assert alert.suggested_runbook == "v2g-discharge-not-flowing"
    assert alert.first_seen == command.created_at
    assert alert.evidence["requested_at"] == command.created_at.isoformat()
    assert alert.title == "Discharge requested, no power flowing (connector 1)"


def test_the_grace_period_runs_from_the_request_not_from_the_charger_s_answer(device):
    command = discharge(device, minutes_ago=3)
    report_command_status(device.device_id, command.command_id, "accepted", timezone.now())
    inside_the_grace = command.created_at + timedelta(minutes=1)
    assert sweep(detectors.discharge_without_power, inside_the_grace).opened == 0
    assert sweep(detectors.discharge_without_power).opened == 1


@pytest.mark.parametrize(
    ("state", "power"),
    [("discharging", 0.0), ("discharging", -7.0), ("charging", -2.0)],
    ids=["discharging state", "both", "negative power"],
)
def test_a_discharging_state_or_negative_power_since_the_request_shows_power_flowed(
    device, state, power
):
    command = discharge(device, minutes_ago=3)
    sample(device, -120, state, power)  # a minute after the request
    report_command_status(device.device_id, command.command_id, "accepted", timezone.now())
    later = timezone.now() + timedelta(minutes=3)  # past the grace after the answer too
    assert sweep(detectors.discharge_without_power, later).opened == 0


def test_power_that_flowed_before_the_request_does_not_count(device):
    sample(device, -5 * 60, "discharging", -7.0)  # an earlier session
    discharge(device, minutes_ago=3)
    assert sweep(detectors.discharge_without_power).opened == 1


def test_a_later_answer_from_the_charger_does_not_reopen_a_closed_discharge_alert(device):
    command = discharge(device)
    sweep(detectors.discharge_without_power)
    (alert,) = alerts("discharge_no_power")
    engineer = Actor("user", operator_id=alert.operator_id, username="field.engineer")
    transition(engineer, alert.alert_id, "resolved", "the car was not eligible")
    report_command_status(device.device_id, command.command_id, "rejected", timezone.now())
    assert sweep(detectors.discharge_without_power).opened == 0
    assert Alert.objects.count() == 1


# --- Thermal codes that need action at their first report ----------------------------------------


def test_a_first_f0204_opens_a_high_alert_at_once(device):
    event(device, "F-0204", 2, fault_message="cabinet over-temperature, output cut")
    assert sweep(detectors.at_once_faults).opened == 1
    (alert,) = alerts("cabinet_over_temperature")
    assert (alert.fault_code, alert.severity, alert.fact_count) == ("F-0204", "high", 1)
    assert alert.subject == device.device_id
    assert alert.title == (
        "Cabinet over-temperature: the charger cut its output or shut down to protect itself"
    )
    # The power-up runbook pauses on F-0204 and defers to the dictionary entry.
    assert alert.suggested_runbook == "charger-faulting-on-power-up"
    event(device, "F-0204", 1)
    assert sweep(detectors.at_once_faults).refreshed == 1
    alert.refresh_from_db()
    assert alert.fact_count == 2 and "(2 times)" in alert.title


@pytest.mark.parametrize("event_type", ["warning", "fault"])
def test_an_f0601_opens_a_medium_alert_at_once_whether_sent_as_a_warning_or_a_fault(
    device, event_type
):
    event(device, "F-0601", 2, event_type=event_type, rpm=600)
    assert DeviceEvent.objects.get().fault_code == "F-0601"
    assert sweep(detectors.at_once_faults).opened == 1
    (alert,) = alerts("cooling_fan_slow")
    assert (alert.fault_code, alert.severity) == ("F-0601", "medium")
    assert alert.title == (
        "Cooling fan below its nominal speed: book a visit to replace the fan before the "
        "cabinet overheats"
    )
    assert (alert.evidence["fan_rpm"], alert.evidence["nominal_fan_rpm"]) == (600, 1800)


def test_the_fan_warning_and_the_cabinet_fault_are_two_alerts_on_one_charger(device):
    event(device, "F-0601", 60, event_type="warning")
    event(device, "F-0204", 5)
    sweep(detectors.at_once_faults)
    assert {(a.detector, a.severity) for a in Alert.objects.all()} == {
        ("cooling_fan_slow", "medium"),
        ("cabinet_over_temperature", "high"),
    }


def test_the_repeat_detector_counts_coded_warnings_too(device):
    for minutes in (30, 20, 10):
        event(device, "F-0512", minutes, event_type="warning")
    assert sweep(detectors.repeat_fault).opened == 1
    assert alerts("repeat_fault")[0].fact_count == 3


def test_codes_alerted_at_their_first_report_are_no_repeat_fault_as_well(device):
    for minutes in (30, 20, 10):
        event(device, "F-0204", minutes)
    assert sweep(detectors.repeat_fault).opened == 0
    sweep(detectors.at_once_faults)
    assert alerts("cabinet_over_temperature")[0].fact_count == 3


def test_the_sweep_runs_the_thermal_detector():
    assert detectors.at_once_faults in detectors.DETECTORS
    assert {"cabinet_over_temperature", "cooling_fan_slow"} <= set(detectors.ALERT_DETECTORS)
