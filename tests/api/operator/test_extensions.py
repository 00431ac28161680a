"""Operator extensions the spec lacks (decisions: discovery-extensions, events-extension): device
discovery, one site, a device's events and stored telemetry."""

from datetime import UTC, datetime, timedelta

import pytest

from diagnostics.services.loader import load_faults
from fleet.models import Connector, Device, DeviceEvent, TelemetrySample
from tests.spec import assert_matches, component

pytestmark = pytest.mark.django_db
BASE = datetime(2025, 3, 15, 11, 0, tzinfo=UTC)


def test_device_list_with_filters(api, acme, rival, site_for, assigned_device):
    client, token = acme
    depot, yard = site_for(client, "Depot"), site_for(client, "Yard")
    first = assigned_device(client, depot)
    second = assigned_device(client, yard, model="TP-DC360", firmware_version="4.0.0")
    Device.objects.filter(pk=second.pk).update(status="online")
    assigned_device(rival[0])

    def listed(**params):
        response = api.get("/v1/operator/devices", token, **params)
        assert response.status_code == 200, response.content
        return [d["device_id"] for d in response.json()["data"]["items"]]

    assert listed() == [first.device_id, second.device_id]
    assert listed(site_id=yard.site_id) == [second.device_id]
    assert listed(status="online") == [second.device_id]
    assert listed(model="TP-DC360") == [second.device_id]
    assert listed(firmware_version="3.1.0") == [first.device_id]
    body = api.get("/v1/operator/devices", token).json()
    assert body["data"]["total"] == 2
    for item in body["data"]["items"]:
        assert_matches(item, component("Device"))


def test_device_list_refuses_foreign_sites(api, acme, rival, site_for):
    foreign = site_for(rival[0], "Theirs")
    response = api.get("/v1/operator/devices", acme[1], site_id=foreign.site_id)
    assert response.status_code == 404


def test_one_site(api, acme, rival, site_for, assigned_device):
    client, token = acme
    site = site_for(client, "Depot", power_capacity=150)
    device = assigned_device(client, site)
    Connector.objects.create(device=device, connector_id=1, state="charging")
    body = api.get(f"/v1/operator/sites/{site.site_id}", token).json()
    assert body["data"]["site_id"] == site.site_id
    assert body["data"]["total_connectors"] == 1
    assert body["data"]["status_summary"]["charging"] == 1
    assert_matches(body["data"], component("Site"))
    foreign = site_for(rival[0], "Theirs")
    assert api.get(f"/v1/operator/sites/{foreign.site_id}", token).json()["code"] == 3001


@pytest.fixture
def device_with_history(acme, assigned_device):
    device = assigned_device(acme[0])
    for minutes, event_type, code in [
        (0, "plug_in", ""),
        (5, "fault", "F-0421"),
        (9, "fault", "1001"),
    ]:
        DeviceEvent.objects.create(
            device=device, connector_id=1, event_type=event_type, fault_code=code,
            timestamp=BASE + timedelta(minutes=minutes), data={"fault_code": code} if code else {},
        )  # fmt: skip
    for seconds in range(0, 30, 5):
        TelemetrySample.objects.create(
            device=device,
            connector_id=1 + seconds % 2,
            timestamp=BASE + timedelta(seconds=seconds),
            state="charging",
            voltage=230,
            current=16,
            power=3.7,
            energy_delivered=seconds / 10,
        )
    return device


def test_event_log_newest_first_with_filters(api, acme, device_with_history):
    url = f"/v1/operator/devices/{device_with_history.device_id}/events"
    token = acme[1]

    def types(**params):
        return [
            (e["event_type"], e["fault_code"])
            for e in api.get(url, token, **params).json()["data"]["items"]
        ]

    assert types() == [("fault", "1001"), ("fault", "F-0421"), ("plug_in", None)]
    load_faults()
    items = api.get(url, token).json()["data"]["items"]
    assert [e.get("fault_title") for e in items] == [
        None,
        "Contactor failed to engage on session start",
        None,
    ]
    assert types(event_type="fault", fault_code="F-0421") == [("fault", "F-0421")]
    assert types(since="2025-03-15T11:05:00Z") == [("fault", "1001"), ("fault", "F-0421")]
    assert types(until="2025-03-15T11:05:00Z") == [("plug_in", None)]
    bad = api.get(url, token, since="2025-03-15T12:00:00Z", until="2025-03-15T11:00:00Z")
    assert bad.json()["code"] == 1001


def test_stored_telemetry(api, acme, device_with_history):
    url = f"/v1/operator/devices/{device_with_history.device_id}/telemetry"
    data = api.get(url, acme[1], connector_id=1, size=2).json()["data"]
    assert data["total"] == 3
    assert [s["timestamp"] for s in data["items"]] == [
        "2025-03-15T11:00:20Z",
        "2025-03-15T11:00:10Z",
    ]
    assert data["items"][0]["power"] == 3.7


def test_extensions_hide_foreign_devices(api, rival, device_with_history):
    for suffix in ("events", "telemetry"):
        response = api.get(
            f"/v1/operator/devices/{device_with_history.device_id}/{suffix}", rival[1]
        )
        assert response.status_code == 404
