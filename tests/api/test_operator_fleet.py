"""GET /v1/operator/sites and GET /v1/operator/devices/{id}, within one operator's fleet."""

from datetime import UTC, datetime

import pytest

from fleet.models import Connector, ConnectorState, Site

pytestmark = pytest.mark.django_db


def add_connectors(device, *states: str) -> None:
    for index, state in enumerate(states, start=1):
        Connector.objects.create(device=device, connector_id=index, state=state)


def test_sites_list_with_location_capacity_and_aggregates(api, acme, site_for, assigned_device):
    client, token = acme
    site = site_for(
        client, "Harbour Depot", address="1 Quay St", lat=51.5, lng=-0.12, power_capacity=350.0
    )
    first = assigned_device(client, site)
    second = assigned_device(client, site)
    add_connectors(first, ConnectorState.CHARGING, ConnectorState.IDLE)
    add_connectors(second, ConnectorState.FAULT, ConnectorState.DISCHARGING, ConnectorState.IDLE)

    body = api.get("/v1/operator/sites", token).json()
    assert body["data"]["total"] == 1
    (item,) = body["data"]["items"]
    assert item["site_id"] == site.site_id
    assert item["name"] == "Harbour Depot"
    assert item["address"] == "1 Quay St"
    assert item["location"] == {"lat": 51.5, "lng": -0.12}
    assert item["power_capacity"] == 350.0
    assert item["total_connectors"] == 5
    assert item["status_summary"] == {
        "idle": 2,
        "charging": 2,  # charging + discharging folded in
        "fault": 1,
        "discharging": 1,
        "preparing": 0,
        "unavailable": 0,
    }
    assert datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")).tzinfo is not None


def test_sites_paging(api, acme, site_for):
    client, token = acme
    created = [site_for(client, f"Site {n}").site_id for n in range(5)]
    page2 = api.get("/v1/operator/sites", token, page=2, size=2).json()["data"]
    assert page2["total"] == 5
    assert (page2["page"], page2["size"]) == (2, 2)
    assert [s["site_id"] for s in page2["items"]] == created[2:4]
    beyond = api.get("/v1/operator/sites", token, page=4, size=2).json()["data"]
    assert beyond["items"] == [] and beyond["total"] == 5


def test_sites_defaults_are_page_1_size_20(api, acme):
    data = api.get("/v1/operator/sites", acme[1]).json()["data"]
    assert (data["page"], data["size"], data["total"], data["items"]) == (1, 20, 0, [])


def test_sites_status_filter(api, acme, site_for):
    client, token = acme
    active = site_for(client, "Open")
    closed = site_for(client, "Closed")
    Site.objects.filter(pk=closed.pk).update(status=Site.Status.INACTIVE)

    def ids(**p):
        return [
            s["site_id"] for s in api.get("/v1/operator/sites", token, **p).json()["data"]["items"]
        ]

    assert ids(status="active") == [active.site_id]
    assert ids(status="inactive") == [closed.site_id]
    assert ids() == [active.site_id, closed.site_id]
    bad = api.get("/v1/operator/sites", token, status="deleted")
    assert bad.status_code == 400
    assert bad.json()["details"] == {
        "field": "status",
        "value": "deleted",
        "reason": bad.json()["details"]["reason"],
    }


def test_operators_see_only_their_own_sites(api, acme, rival, site_for):
    site_for(acme[0], "Acme site")
    site_for(rival[0], "Rival site")
    names = [s["name"] for s in api.get("/v1/operator/sites", acme[1]).json()["data"]["items"]]
    assert names == ["Acme site"]


def test_device_detail_with_connectors(api, acme, assigned_device):
    client, token = acme
    device = assigned_device(client)
    Connector.objects.create(
        device=device,
        connector_id=1,
        state=ConnectorState.CHARGING,
        power=6.8,
        voltage=223.0,
        current=30.5,
        energy_delivered=12.3,
        soc=55,
        temperature=38.0,
        last_telemetry_time=datetime(2025, 3, 15, 11, 0, tzinfo=UTC),
    )
    response = api.get(f"/v1/operator/devices/{device.device_id}", token)
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["device_id"] == device.device_id
    assert data["sn"] == device.sn
    assert data["status"] == "offline"  # no heartbeat yet
    assert data["site_id"] == device.site_id
    assert data["connectors"] == [
        {
            "connector_id": 1,
            "status": "charging",
            "power": 6.8,
            "voltage": 223.0,
            "current": 30.5,
            "energy_delivered": 12.3,
            "soc": 55,
            "temperature": 38.0,
            "last_telemetry_time": "2025-03-15T11:00:00Z",
        }
    ]


def test_device_of_another_operator_is_404_3001(api, acme, rival, assigned_device):
    foreign = assigned_device(rival[0])
    response = api.get(f"/v1/operator/devices/{foreign.device_id}", acme[1])
    assert response.status_code == 404
    assert response.json()["code"] == 3001


def test_unassigned_device_is_invisible_to_every_operator(api, acme, register_device):
    registration = register_device()
    response = api.get(f"/v1/operator/devices/{registration['device_id']}", acme[1])
    assert response.status_code == 404
    assert response.json()["code"] == 3001


def test_unknown_and_foreign_devices_answer_identically(api, acme, rival, assigned_device):
    foreign = assigned_device(rival[0])
    unknown = api.get("/v1/operator/devices/dvc_ffffffffffff", acme[1]).json()
    hidden = api.get(f"/v1/operator/devices/{foreign.device_id}", acme[1]).json()
    assert unknown.keys() == hidden.keys()
    assert unknown["code"] == hidden["code"] == 3001
    assert hidden["message"] == unknown["message"].replace("dvc_ffffffffffff", foreign.device_id)
