"""One way to let an operator in, on every surface: a client that must sign its writes is
refused unsigned or badly signed on the REST routes and on the legacy start/stop routes
alike, and only requests whose signature is good count against its rate class."""

import json
import time

import pytest

from fleet.actors import Actor
from fleet.models import Command, Connector
from fleet.services import provisioning
from fleet.services.signing import signature_for

pytestmark = pytest.mark.django_db

LEGACY_WRITES = [
    ("/v1/cp/start_charging", {"OrderId": "ord-1", "ConnectorId": 1}),
    ("/v1/cp/stop_charging", {"ConnectorId": 1}),
    ("/v1/cp/start_discharging", {"OrderId": "ord-2", "ConnectorId": 1}),
    ("/v1/cp/stop_discharging", {"ConnectorId": 1}),
]


@pytest.fixture
def signer(operator_token, assigned_device):
    client, secret = provisioning.create_operator_client(
        Actor.platform(), "Signed Charging", ["read", "write"], require_signed_writes=True
    )
    device = assigned_device(client, v2g_capable=True)
    Connector.objects.create(device=device, connector_id=1, state="idle")
    return secret, operator_token(client, secret), device


def post(api, path: str, body: dict, token: str, **headers):
    return api.client.post(
        path, json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}", **headers,
    )  # fmt: skip


def signed(secret: str, path: str, body: dict) -> dict:
    stamp = str(int(time.time()))
    signature = signature_for(secret, "POST", path, stamp, json.dumps(body).encode())
    return {"HTTP_X_SIGNATURE": signature, "HTTP_X_TIMESTAMP": stamp}


@pytest.mark.parametrize(("path", "body"), LEGACY_WRITES)
@pytest.mark.parametrize("signature", ["none", "garbage"])
def test_legacy_writes_of_a_signing_client_are_refused_unsigned(api, signer, path, body, signature):
    _, token, device = signer
    body = {**body, "ChargePointId": device.device_id}
    headers = {}
    if signature == "garbage":
        headers = {"HTTP_X_SIGNATURE": "0" * 64, "HTTP_X_TIMESTAMP": str(int(time.time()))}
    response = post(api, path, body, token, **headers)
    assert response.status_code == 401, response.content
    answer = response.json()
    assert answer["Code"] == 2001 and answer["Status"] in ("Reject", "START_FAILED")
    assert not Command.objects.exists()


def test_a_signed_legacy_start_is_accepted(api, signer):
    secret, token, device = signer
    path = "/v1/cp/start_charging"
    body = {"OrderId": "ord-1", "ChargePointId": device.device_id, "ConnectorId": 1}
    response = post(api, path, body, token, **signed(secret, path, body))
    assert response.status_code == 200, response.content
    assert Command.objects.filter(device=device, command="start_charging").count() == 1


@pytest.mark.parametrize(
    "path",
    ["/v1/cp/start_charging", "/v1/operator/devices/{device}/connectors/1/start"],
)
def test_unsigned_noise_does_not_spend_the_clients_quota(api, signer, settings, path):
    secret, token, device = signer
    settings.TELLUS_RATE_OPERATOR_QUERY = (2, 60)
    path = path.format(device=device.device_id)
    body = {"OrderId": "ord-1", "ChargePointId": device.device_id, "ConnectorId": 1}
    for _ in range(5):
        assert post(api, path, body, token).status_code == 401
        bad = {"HTTP_X_SIGNATURE": "f" * 64, "HTTP_X_TIMESTAMP": str(int(time.time()))}
        assert post(api, path, body, token, **bad).status_code == 401
    response = post(api, path, body, token, **signed(secret, path, body))
    assert response.status_code == 200, response.content
