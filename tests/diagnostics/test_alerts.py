"""Detectors open one alert per subject and count the distinct facts it covers; people
move alerts through their lifecycle over the API, every move audited; a closed alert
stays closed, and only facts received after the close can open a new one."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.models import Alert
from diagnostics.services import detectors
from diagnostics.services.alerts import transition
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.actors import Actor
from fleet.models import AuditEntry, DeviceEvent, TelemetrySample
from fleet.services.commands import queue_command, report_command_status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def device(acme, assigned_device):
    return assigned_device(acme[0], model="TP-DC180", firmware_version="3.0.1")


def fault(device, code, minutes_ago=1, source="charger"):
    return DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="fault", fault_code=code, source=source,
        timestamp=timezone.now() - timedelta(minutes=minutes_ago), data={"fault_code": code},
    )  # fmt: skip


def sweep(detector, now=None):
    return detectors.run_detector(detector, now or timezone.now())


def close(alert, status="resolved", **kwargs):
    engineer = Actor("user", operator_id=alert.operator_id, username="field.engineer")
    return transition(engineer, alert.alert_id, status, "", **kwargs)


# --- Facts, not sweeps ------------------------------------------------------------------------


def test_repeat_fault_opens_at_three_events_and_counts_events_not_sweeps(device):
    fault(device, "F-0421", 30)
    fault(device, "F-0421", 20)
    assert sweep(detectors.repeat_fault).opened == 0
    fault(device, "F-0421", 10)
    assert sweep(detectors.repeat_fault).opened == 1
    alert = Alert.objects.get()
    assert (alert.detector, alert.fault_code, alert.severity) == ("repeat_fault", "F-0421", "high")
    assert alert.suggested_runbook == "charger-faulting-on-power-up"
    assert alert.fact_count == 3

    for _ in range(3):  # sweeps without new facts change nothing
        assert sweep(detectors.repeat_fault).refreshed == 0
    alert.refresh_from_db()
    assert alert.fact_count == 3

    fault(device, "F-0421", 1)
    assert sweep(detectors.repeat_fault).refreshed == 1
    assert Alert.objects.count() == 1
    alert.refresh_from_db()
    assert alert.fact_count == 4 and alert.evidence["count"] == 4
    assert alert.title == "F-0421 reported 4 times"


def test_an_open_alert_keeps_counting_events_after_its_window_has_moved_on(device):
    for minutes in (25 * 60 + 30, 25 * 60, 24 * 60 + 30):
        fault(device, "F-0805", minutes)
    assert sweep(detectors.repeat_fault, now=timezone.now() - timedelta(hours=2)).opened == 1
    fault(device, "F-0805", 1)  # now the last 24 h hold only this one
    sweep(detectors.repeat_fault)
    assert Alert.objects.get().fact_count == 4


def test_a_resolved_alert_is_not_reopened_by_the_facts_it_covered(device):
    for minutes in (3, 2, 1):
        fault(device, "F-0805", minutes)
    sweep(detectors.repeat_fault)
    first = close(Alert.objects.get())
    assert first.closed_at is not None

    sweep(detectors.repeat_fault)  # the three events are still inside the 24 h window
    fault(device, "F-0805")
    fault(device, "F-0805")
    sweep(detectors.repeat_fault)  # two new events: below the threshold on their own
    assert list(Alert.objects.values_list("status", flat=True)) == ["resolved"]

    fault(device, "F-0805")
    assert sweep(detectors.repeat_fault).opened == 1
    second = Alert.objects.get(status="open")
    assert second.fact_count == 3  # the new events only
    assert second.previous_id == first.alert_id
    assert second.facts_received_after == first.closed_at
    first.refresh_from_db()
    assert (first.status, first.fact_count) == ("resolved", 3)


def test_a_dismissal_snoozes_the_subject_then_counts_what_came_since(device):
    for minutes in (3, 2, 1):
        fault(device, "F-0805", minutes)
    sweep(detectors.repeat_fault)
    dismissed = close(Alert.objects.get(), "dismissed", snooze_minutes=60)
    assert dismissed.snoozed_until == dismissed.closed_at + timedelta(minutes=60)
    for _ in range(4):
        fault(device, "F-0805")

    assert sweep(detectors.repeat_fault).opened == 0  # snoozed
    later = dismissed.snoozed_until + timedelta(minutes=1)
    assert sweep(detectors.repeat_fault, now=later).opened == 1
    assert Alert.objects.get(status="open").fact_count == 4


def test_firmware_cluster_counts_devices(device, acme, assigned_device, site_for):
    others = [
        assigned_device(acme[0], site_for(acme[0], f"S{n}"), firmware_version="3.0.1")
        for n in range(2)
    ]
    fault(device, "F-0421", 5)
    fault(device, "F-0421", 4)
    assert sweep(detectors.firmware_cluster).opened == 0  # one charger
    fault(others[0], "F-0421")
    sweep(detectors.firmware_cluster)
    alert = Alert.objects.get(detector="firmware_cluster")
    assert alert.subject == "F-0421@3.0.1"
    assert alert.fact_count == 2 and alert.evidence["devices"] == 2
    assert alert.evidence["sites"] == 2
    assert alert.suggested_runbook == "charger-faulting-on-power-up"
    fault(device, "F-0421")  # a device already counted
    sweep(detectors.firmware_cluster)
    alert.refresh_from_db()
    assert alert.fact_count == 2
    fault(others[1], "F-0421")
    sweep(detectors.firmware_cluster)
    alert.refresh_from_db()
    assert (alert.fact_count, alert.evidence["sites"]) == (3, 3)


def test_platform_faults_raise_connectivity_alerts(device):
    fault(device, "F-0301", 2, source="platform")
    fault(device, "F-0301", source="platform")
    fault(device, "F-0302", source="platform")
    fault(device, "F-0301", 2, source="charger")  # charger-sent: the repeat detector's job
    sweep(detectors.platform_faults)
    counts = dict(Alert.objects.values_list("detector", "fact_count"))
    assert counts == {"heartbeat_lost": 2, "reconnect_storm": 1}


def test_over_temperature_uses_the_ac_and_dc_limits(device, acme, assigned_device):
    ac = assigned_device(acme[0], model="TP-AC22")
    for unit, temperature in ((device, 74.0), (ac, 66.0)):
        TelemetrySample.objects.create(
            device=unit, connector_id=1, timestamp=timezone.now(), state="charging", voltage=400,
            current=30, power=10, energy_delivered=1, temperature=temperature,
        )  # fmt: skip
    sweep(detectors.over_temperature)
    (alert,) = Alert.objects.all()  # 74 °C is under the DC limit of 75; 66 °C is over AC 65
    assert alert.device_id == ac.device_id
    assert alert.evidence["limit_c"] == 65.0
    assert (alert.title, alert.fact_count) == ("Connector 1 at 66.0 °C", 1)


def test_discharge_without_power(device):
    command = queue_command(
        Actor.platform(), device, "discharge", {"discharge_power": 11}, connector_id=1
    )
    report_command_status(device.device_id, command.command_id, "accepted", timezone.now())
    later = timezone.now() + timedelta(minutes=3)
    sweep(detectors.discharge_without_power, later)
    alert = Alert.objects.get(detector="discharge_no_power")
    assert alert.suggested_runbook == "v2g-discharge-not-flowing"
    close(alert)
    sweep(detectors.discharge_without_power, later)  # the same command is the same fact
    assert not Alert.objects.filter(status="open").exists()

    Alert.objects.all().delete()
    TelemetrySample.objects.create(  # power starts flowing
        device=device,
        connector_id=1,
        timestamp=timezone.now() + timedelta(seconds=30),
        state="discharging",
        voltage=400,
        current=-20,
        power=-8,
        energy_delivered=0.1,
    )
    sweep(detectors.discharge_without_power, later)
    assert not Alert.objects.exists()


# --- The API ----------------------------------------------------------------------------------


@pytest.fixture
def alert(device):
    for minutes in (3, 2, 1):
        fault(device, "F-0421", minutes)
    sweep(detectors.repeat_fault)
    return Alert.objects.get()


def test_alert_api_lifecycle(api, acme, alert):
    token = acme[1]
    listed = api.get("/v1/operator/alerts", token, status="open").json()["data"]
    assert [(a["alert_id"], a["count"]) for a in listed["items"]] == [(alert.alert_id, 3)]
    assert api.get("/v1/operator/alerts", token, severity="low").json()["data"]["total"] == 0
    url = f"/v1/operator/alerts/{alert.alert_id}"
    ack = api.patch(url, {"status": "acknowledged", "note": "on it"}, token)
    assert ack.status_code == 200, ack.content
    assert ack.json()["data"]["status"] == "acknowledged"
    assert "closed_at" not in ack.json()["data"]
    done = api.patch(url, {"status": "resolved", "note": "firmware 3.1.0 pushed"}, token)
    assert done.json()["data"]["closed_at"]
    history = done.json()["data"]["transitions"]
    assert [(t["from_status"], t["to_status"]) for t in history] == [
        ("open", "acknowledged"),
        ("acknowledged", "resolved"),
    ]
    assert history[0]["by"].startswith("client:")
    again = api.patch(url, {"status": "acknowledged"}, token)
    assert again.status_code == 409 and again.json()["code"] == 4001


def test_every_alert_move_is_audited_with_before_after_note_and_address(api, acme, alert):
    url = f"/v1/operator/alerts/{alert.alert_id}"
    api.patch(url, {"status": "acknowledged", "note": "on it"}, acme[1])
    api.patch(url, {"status": "dismissed", "note": "known", "snooze_minutes": 90}, acme[1])
    entries = AuditEntry.objects.filter(resource_type="alert", resource_id=alert.alert_id)
    moves = sorted(entries, key=lambda entry: entry.id)
    moved = [(e.action, e.before["status"], e.after["status"], e.details["note"]) for e in moves]
    assert moved == [
        ("acknowledge_alert", "open", "acknowledged", "on it"),
        ("dismiss_alert", "acknowledged", "dismissed", "known"),
    ]
    assert {(e.actor, e.operator_id, e.ip) for e in moves} == {
        (f"client:{acme[0].client_id}", acme[0].operator_id, "127.0.0.1")
    }
    alert.refresh_from_db()
    assert moves[1].after["snoozed_until"] == alert.snoozed_until.isoformat()


def test_a_refused_move_is_not_audited(api, acme, alert):
    close(alert)
    before = AuditEntry.objects.filter(resource_type="alert").count()
    refused = api.patch(f"/v1/operator/alerts/{alert.alert_id}", {"status": "dismissed"}, acme[1])
    assert refused.status_code == 409
    assert AuditEntry.objects.filter(resource_type="alert").count() == before


def test_dismissal_with_a_snooze_over_the_api(api, acme, alert):
    url = f"/v1/operator/alerts/{alert.alert_id}"
    response = api.patch(url, {"status": "dismissed", "snooze_minutes": 120}, acme[1])
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["status"] == "dismissed" and data["snoozed_until"] > data["closed_at"]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "dismissed", "snooze_minutes": 0},
        {"status": "dismissed", "snooze_minutes": 43_201},
        {"status": "dismissed", "snooze_minutes": "60"},
        {"status": "dismissed", "snooze_minutes": 1.5},
        {"status": "resolved", "snooze_minutes": 60},
        {"status": "acknowledged", "snooze_minutes": 60},
    ],
)
def test_snooze_minutes_are_bounded_and_only_for_a_dismissal(api, acme, alert, body):
    response = api.patch(f"/v1/operator/alerts/{alert.alert_id}", body, acme[1])
    assert response.status_code == 400
    assert response.json()["code"] == 1001
    assert response.json()["details"]["field"] == "snooze_minutes"
    alert.refresh_from_db()
    assert (alert.status, alert.snoozed_until) == ("open", None)


def test_a_new_alert_points_to_the_closed_one_in_the_api(api, acme, alert, device):
    close(alert)
    for minutes in (3, 2, 1):
        fault(device, "F-0421", minutes)
    sweep(detectors.repeat_fault)
    (listed,) = api.get("/v1/operator/alerts", acme[1], status="open").json()["data"]["items"]
    assert listed["previous_alert_id"] == alert.alert_id
    assert listed["count"] == listed["detections"] == 3


def test_alerts_are_per_operator(api, alert, make_client, operator_token):
    rival = operator_token(*make_client("Rival"))
    assert api.get("/v1/operator/alerts", rival).json()["data"]["total"] == 0
    assert api.get(f"/v1/operator/alerts/{alert.alert_id}", rival).status_code == 404
    bad = api.patch(f"/v1/operator/alerts/{alert.alert_id}", {"status": "reopened"}, rival)
    assert bad.status_code == 400
    foreign = api.patch(f"/v1/operator/alerts/{alert.alert_id}", {"status": "resolved"}, rival)
    assert foreign.status_code == 404
