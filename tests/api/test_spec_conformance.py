"""Our responses against the schemas of the official v1.3 OpenAPI document."""

import pytest

from fleet.models import Connector, ConnectorState
from tests.spec import assert_matches, component, response_schema

pytestmark = pytest.mark.django_db


def test_operator_token_response(api, make_client):
    client, secret = make_client()
    body = api.post(
        "/v1/operator/oauth/token",
        {
            "client_id": client.client_id,
            "client_secret": secret,
            "grant_type": "client_credentials",
        },
    ).json()
    assert_matches(body, response_schema("post", "/operator/oauth/token"))
    assert_matches(body["data"], component("AccessTokenResponse"))


def test_operator_token_401(api):
    body = api.post(
        "/v1/operator/oauth/token",
        {"client_id": "cli_x", "client_secret": "nope", "grant_type": "client_credentials"},
    ).json()
    assert_matches(body, response_schema("post", "/operator/oauth/token", 401))


def test_device_register_and_token_responses(api, register_device):
    response = api.post(
        "/v1/device/register",
        {
            "sn": "SN-SPEC",
            "model": "AC-7kW-V2",
            "manufacturer": "ChargeTech",
            "firmware_version": "2.1.0",
        },
    )
    assert_matches(response.json(), response_schema("post", "/device/register"))
    data = response.json()["data"]
    token = api.post(
        "/v1/device/token",
        {
            "device_id": data["device_id"],
            "device_secret": data["device_secret"],
            "grant_type": "client_credentials",
        },
    ).json()
    assert_matches(token, response_schema("post", "/device/token"))


def test_sites_page(api, make_client, operator_token, site_for, assigned_device):
    client, secret = make_client()
    site = site_for(client, "Spec Site", address="1 Spec Rd", lat=1.0, lng=2.0, power_capacity=22)
    device = assigned_device(client, site)
    Connector.objects.create(device=device, connector_id=1, state=ConnectorState.IDLE)
    body = api.get("/v1/operator/sites", operator_token(client, secret)).json()
    assert body["data"]["items"]
    assert_matches(body, response_schema("get", "/operator/sites"))


def test_device_detail(api, make_client, operator_token, assigned_device):
    client, secret = make_client()
    device = assigned_device(client)
    Connector.objects.create(
        device=device, connector_id=1, state=ConnectorState.CHARGING, power=7.0, soc=40
    )
    Connector.objects.create(device=device, connector_id=2)  # no telemetry yet
    body = api.get(
        f"/v1/operator/devices/{device.device_id}", operator_token(client, secret)
    ).json()
    assert_matches(body, response_schema("get", "/operator/devices/{device_id}"))
    assert_matches(body["data"], component("Device"))


@pytest.mark.parametrize(
    "request_",
    [
        ("get", "/v1/operator/no-such-path"),
        ("get", "/v1/device/register"),
        ("get", "/v1/operator/sites"),
        ("post", "/v1/device/register"),
    ],
)
def test_error_bodies_match_error_response(api, request_):
    method, path = request_
    response = api.get(path) if method == "get" else api.post(path, {"sn": 1})
    assert response.status_code >= 400
    assert_matches(response.json(), component("ErrorResponse"))
