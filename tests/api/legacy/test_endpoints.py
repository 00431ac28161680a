"""The legacy endpoints we serve: /v1/customer/query_station_info and /v1/cp/*."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from api.schemas.reporting import MAX_SESSION_KWH
from fleet.models import Command, Connector, Device, LegacyOrder
from tests.spec import assert_matches, component, official_spec

pytestmark = pytest.mark.django_db


@pytest.fixture
def station(acme, site_for, assigned_device):
    site = site_for(acme[0], "Depot", lat=31.2, lng=121.5)
    device = assigned_device(acme[0], site, model="TP-DC180")
    Device.objects.filter(pk=device.pk).update(status="online")
    Connector.objects.create(device=device, connector_id=1, state="idle")
    Connector.objects.create(device=device, connector_id=2, state="charging")
    return Device.objects.get(pk=device.pk)


def call(api, method: str, path: str, body, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return getattr(api.client, method)(
        f"/v1{path}", json.dumps(body), content_type="application/json", **headers
    )


def test_query_station_status(api, acme, station):
    response = call(api, "put", "/cp/query_station_status", [station.device_id], acme[1])
    assert response.status_code == 200
    (point,) = response.json()
    assert point["ChargeBoxId"] == station.device_id
    assert (point["Type"], point["Power"], point["Latitude"], point["Longitude"]) == (
        "DC",
        180,
        31.2,
        121.5,
    )
    assert point["Connectors"] == [
        {"ConnectorId": 1, "Status": "Available"},
        {"ConnectorId": 2, "Status": "Working"},
    ]
    assert_matches(point, component("LegacyChargePoint"))


def test_offline_stations_show_fault(api, acme, station):
    Device.objects.filter(pk=station.pk).update(status="offline")
    (point,) = call(api, "put", "/cp/query_station_status", [station.device_id], acme[1]).json()
    assert {c["Status"] for c in point["Connectors"]} == {"Fault"}


def test_query_station_status_limits_and_tenancy(api, acme, station, make_client, assigned_device):
    foreign = assigned_device(make_client("Rival")[0])
    listed = call(
        api,
        "put",
        "/cp/query_station_status",
        [station.device_id, foreign.device_id, "nope"],
        acme[1],
    )
    assert [p["ChargeBoxId"] for p in listed.json()] == [station.device_id]
    too_many = call(
        api, "put", "/cp/query_station_status", [f"dvc_{n}" for n in range(51)], acme[1]
    )
    assert too_many.status_code == 400
    assert too_many.json()["code"] == 1001
    not_a_list = call(api, "put", "/cp/query_station_status", {"ids": []}, acme[1])
    assert not_a_list.status_code == 400


def test_query_station_info_pages_and_increments(api, acme, station, assigned_device, site_for):
    for _ in range(2):
        assigned_device(acme[0], station.site)
    body = call(
        api, "put", "/customer/query_station_info", {"PageNo": 1, "PageSize": 2}, acme[1]
    ).json()
    assert (body["PageNo"], body["PageCount"], body["ItemSize"]) == (1, 2, 3)
    assert len(body["ChargePoints"]) == 2
    schema = official_spec()["paths"]["/customer/query_station_info"]["put"]["responses"]["200"]
    assert_matches(body, schema["content"]["application/json"]["schema"])
    later = (timezone.now() + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    none = call(
        api, "put", "/customer/query_station_info", {"LastQueryTime": later}, acme[1]
    ).json()
    assert none["ItemSize"] == 0
    bad = call(api, "put", "/customer/query_station_info", {"LastQueryTime": "yesterday"}, acme[1])
    assert bad.status_code == 400
    assert bad.json()["details"]["field"] == "LastQueryTime"


def test_start_charging_queues_a_real_command(api, acme, station):
    body = {
        "OrderId": "ORD-1",
        "ChargePointId": station.device_id,
        "ConnectorId": 1,
        "Note": "bay 4",
    }
    response = call(api, "post", "/cp/start_charging", body, acme[1])
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["Status"] == "STARTING"
    order = LegacyOrder.objects.get(order_id="ORD-1")
    assert answer["DeviceVendorOrderId"] == order.vendor_order_id
    command = order.start_command
    assert (command.command, command.connector_id, command.params["transaction_id"]) == (
        "start_charging",
        1,
        "ORD-1",
    )
    again = call(api, "post", "/cp/start_charging", body, acme[1])
    assert again.json()["DeviceVendorOrderId"] == order.vendor_order_id  # a retried order
    assert Command.objects.count() == 1


def test_start_failures_keep_the_status_shape(api, acme, station, make_client, assigned_device):
    foreign = assigned_device(make_client("Rival")[0])
    cases = [
        ({"OrderId": "O", "ChargePointId": foreign.device_id, "ConnectorId": 1}, 404),
        ({"OrderId": "O", "ChargePointId": station.device_id, "ConnectorId": 9}, 404),
        ({"ChargePointId": station.device_id, "ConnectorId": 1}, 400),
        ({"OrderId": "O", "ChargePointId": station.device_id, "ConnectorId": 0}, 400),
    ]
    for body, status in cases:
        response = call(api, "post", "/cp/start_charging", body, acme[1])
        assert response.status_code == status
        assert response.json()["Status"] == "START_FAILED"
        assert response.json()["Reason"]
    assert not Command.objects.exists()


def test_discharge_needs_v2g(api, acme, station):
    body = {
        "OrderId": "V-1",
        "ChargePointId": station.device_id,
        "ConnectorId": 1,
        "LimitMinSOC": 30,
    }
    refused = call(api, "post", "/cp/start_discharging", body, acme[1])
    assert refused.status_code == 400
    assert refused.json()["Status"] == "START_FAILED"
    Device.objects.filter(pk=station.pk).update(v2g_capable=True)
    accepted = call(api, "post", "/cp/start_discharging", body, acme[1])
    assert accepted.status_code == 200
    assert accepted.json()["Status"] == "STARTING"
    assert Command.objects.get().params["min_soc"] == 30


@pytest.mark.parametrize("path", ["/cp/stop_charging", "/cp/stop_discharging"])
def test_stop(api, acme, station, path):
    response = call(
        api, "post", path, {"ChargePointId": station.device_id, "ConnectorId": 2}, acme[1]
    )
    assert response.json() == {"Status": "Accept"}
    assert Command.objects.get().command == "stop_charging"
    refused = call(api, "post", path, {"ChargePointId": "dvc_nope", "ConnectorId": 2}, acme[1])
    assert refused.status_code == 404
    assert refused.json()["Status"] == "Reject"


def test_legacy_endpoints_need_a_token_and_scope(api, station, make_client, operator_token):
    reader = operator_token(*make_client("Acme Charging", scopes=["read"]))
    assert (
        call(api, "put", "/cp/query_station_status", [station.device_id], None).status_code == 401
    )
    denied = call(
        api,
        "post",
        "/cp/stop_charging",
        {"ChargePointId": station.device_id, "ConnectorId": 1},
        reader,
    )
    assert denied.status_code == 403
    assert denied.json()["Status"] == "Reject"
    assert (
        call(api, "put", "/cp/query_station_status", [station.device_id], reader).status_code == 200
    )


@pytest.mark.parametrize(
    ("energy", "accepted"),
    [(MAX_SESSION_KWH, True), (MAX_SESSION_KWH + 1, False), (2**64 - 1, False), (0, False)],
)
def test_discharge_energy_limit_is_bounded_like_the_v1_energy_fields(
    api, acme, station, energy, accepted
):
    Device.objects.filter(pk=station.pk).update(v2g_capable=True)
    body = {"OrderId": "V-2", "ChargePointId": station.device_id, "ConnectorId": 1}
    response = call(
        api, "post", "/cp/start_discharging", {**body, "LimitMaxEnergy": energy}, acme[1]
    )
    if accepted:
        assert response.status_code == 200, response.content
        assert Command.objects.get().params["max_energy_kwh"] == energy
        return
    assert response.status_code == 400
    answer = response.json()
    assert (answer["Status"], answer["Code"]) == ("START_FAILED", 1001)
    assert answer["Details"]["field"] == "LimitMaxEnergy"
    assert not Command.objects.exists() and not LegacyOrder.objects.exists()
