"""Detectors open or refresh one alert per subject; people move alerts through their
lifecycle over the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.models import Alert
from diagnostics.services import detectors
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.models import DeviceEvent, TelemetrySample
from fleet.services.commands import queue_command, report_command_status

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def acme(make_client, operator_token):
    client, secret = make_client("Acme Charging")
    return client, operator_token(client, secret)


@pytest.fixture
def device(acme, assigned_device):
    return assigned_device(acme[0], model="TP-DC180", firmware_version="3.0.1")


def fault(device, code, minutes_ago=1, source="charger"):
    return DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="fault", fault_code=code, source=source,
        timestamp=timezone.now() - timedelta(minutes=minutes_ago), data={"fault_code": code},
    )  # fmt: skip


def test_repeat_fault_fires_once_and_refreshes(device):
    fault(device, "F-0411", 30)
    fault(device, "F-0411", 20)
    assert detectors.repeat_fault(timezone.now()) == 0
    fault(device, "F-0411", 10)
    detectors.repeat_fault(timezone.now())
    alert = Alert.objects.get()
    assert (alert.detector, alert.fault_code, alert.severity) == ("repeat_fault", "F-0411", "high")
    assert alert.suggested_runbook == "charger-faulting-on-power-up"
    fault(device, "F-0411", 1)
    detectors.repeat_fault(timezone.now())
    assert Alert.objects.count() == 1
    alert.refresh_from_db()
    assert alert.detections == 2 and alert.evidence["count"] == 4


def test_a_resolved_alert_lets_a_new_one_open(device):
    for minutes in (3, 2, 1):
        fault(device, "F-0805", minutes)
    detectors.repeat_fault(timezone.now())
    Alert.objects.update(status="resolved")
    detectors.repeat_fault(timezone.now())
    assert Alert.objects.filter(status="open").count() == 1
    assert Alert.objects.count() == 2


def test_firmware_cluster(device, acme, assigned_device, site_for):
    others = [
        assigned_device(acme[0], site_for(acme[0], f"S{n}"), firmware_version="3.0.1")
        for n in range(2)
    ]
    fault(device, "F-0421")
    fault(others[0], "F-0421")
    assert detectors.firmware_cluster(timezone.now()) == 0
    fault(others[1], "F-0421")
    detectors.firmware_cluster(timezone.now())
    alert = Alert.objects.get(detector="firmware_cluster")
    assert alert.subject == "F-0421@3.0.1"
    assert alert.evidence["devices"] == 3


def test_platform_faults_raise_connectivity_alerts(device):
    fault(device, "F-0301", source="platform")
    fault(device, "F-0302", source="platform")
    fault(device, "F-0301", 2, source="charger")  # charger-sent: the repeat detector's job
    detectors.platform_faults(timezone.now())
    assert sorted(Alert.objects.values_list("detector", flat=True)) == [
        "heartbeat_lost",
        "reconnect_storm",
    ]


def test_over_temperature_uses_the_ac_and_dc_limits(device, acme, assigned_device):
    ac = assigned_device(acme[0], model="TP-AC22")
    for unit, temperature in ((device, 74.0), (ac, 66.0)):
        TelemetrySample.objects.create(
            device=unit, connector_id=1, timestamp=timezone.now(), state="charging", voltage=400,
            current=30, power=10, energy_delivered=1, temperature=temperature,
        )  # fmt: skip
    detectors.over_temperature(timezone.now())
    (alert,) = Alert.objects.all()  # 74 °C is under the DC limit of 75; 66 °C is over AC 65
    assert alert.device_id == ac.device_id
    assert alert.evidence["limit_c"] == 65.0


def test_discharge_without_power(device):
    command = queue_command(device, "discharge", {"discharge_power": 11}, connector_id=1)
    report_command_status(device.device_id, command.command_id, "accepted", timezone.now())
    later = timezone.now() + timedelta(minutes=3)
    detectors.discharge_without_power(later)
    alert = Alert.objects.get(detector="discharge_no_power")
    assert alert.suggested_runbook == "v2g-discharge-not-flowing"
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
    detectors.discharge_without_power(later)
    assert not Alert.objects.exists()


@pytest.fixture
def alert(device):
    for minutes in (3, 2, 1):
        fault(device, "F-0421", minutes)
    detectors.repeat_fault(timezone.now())
    return Alert.objects.get()


def test_alert_api_lifecycle(api, acme, alert):
    token = acme[1]
    listed = api.get("/v1/operator/alerts", token, status="open").json()["data"]
    assert [a["alert_id"] for a in listed["items"]] == [alert.alert_id]
    assert api.get("/v1/operator/alerts", token, severity="low").json()["data"]["total"] == 0
    url = f"/v1/operator/alerts/{alert.alert_id}"
    ack = api.patch(url, {"status": "acknowledged", "note": "on it"}, token)
    assert ack.status_code == 200, ack.content
    assert ack.json()["data"]["status"] == "acknowledged"
    done = api.patch(url, {"status": "resolved", "note": "firmware 3.1.0 pushed"}, token)
    history = done.json()["data"]["transitions"]
    assert [(t["from_status"], t["to_status"]) for t in history] == [
        ("open", "acknowledged"),
        ("acknowledged", "resolved"),
    ]
    assert history[0]["by"].startswith("client:")
    again = api.patch(url, {"status": "acknowledged"}, token)
    assert again.status_code == 409 and again.json()["code"] == 4001


def test_alerts_are_per_operator(api, alert, make_client, operator_token):
    rival = operator_token(*make_client("Rival"))
    assert api.get("/v1/operator/alerts", rival).json()["data"]["total"] == 0
    assert api.get(f"/v1/operator/alerts/{alert.alert_id}", rival).status_code == 404
    bad = api.patch(f"/v1/operator/alerts/{alert.alert_id}", {"status": "reopened"}, rival)
    assert bad.status_code == 400
