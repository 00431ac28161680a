"""Optional HMAC-SHA256 request signing (X-Signature, X-Timestamp)."""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import Command, Connector
from fleet.services import provisioning
from fleet.services.signing import forget_expired_signatures, signature_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def signer(api, operator_token, assigned_device):
    client, secret = provisioning.create_operator_client(
        Actor.platform(), "Signed Charging", ["read", "write"], require_signed_writes=True
    )
    token = operator_token(client, secret)
    device = assigned_device(client)
    Connector.objects.create(device=device, connector_id=1)
    return client, secret, token, device


def signed_post(api, path, body, token, secret, timestamp=None, signature=None):
    raw = json.dumps(body)
    stamp = timestamp or str(int(time.time()))
    sig = signature or signature_for(secret, "POST", path, stamp, raw.encode())
    return api.client.post(
        path,
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_SIGNATURE=sig,
        HTTP_X_TIMESTAMP=stamp,
    )


def start_path(device) -> str:
    return f"/v1/operator/devices/{device.device_id}/connectors/1/start"


def test_a_signed_write_is_accepted(api, signer):
    _, secret, token, device = signer
    response = signed_post(api, start_path(device), {"charge_power": 7}, token, secret)
    assert response.status_code == 200, response.content
    assert Command.objects.count() == 1


def test_iso_timestamps_are_accepted(api, signer):
    _, secret, token, device = signer
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        signed_post(api, start_path(device), {}, token, secret, timestamp=stamp).status_code == 200
    )


@pytest.mark.parametrize(
    "problem", ["wrong_key", "tampered_body", "stale", "future", "garbled_time"]
)
def test_bad_signatures_are_2001_and_change_nothing(api, signer, problem):
    _, secret, token, device = signer
    path, body, stamp = start_path(device), {"charge_power": 7}, str(int(time.time()))
    signature = None
    if problem == "wrong_key":
        signature = signature_for("sk_other", "POST", path, stamp, json.dumps(body).encode())
    elif problem == "tampered_body":
        signature = signature_for(secret, "POST", path, stamp, b'{"charge_power": 1}')
    elif problem == "stale":
        stamp = str(int(time.time()) - 301)
    elif problem == "future":
        # A minute past the window: a loaded machine's second or two between here and
        # the check must not bring the stamp back inside it.
        stamp = str(int(time.time()) + 360)
    elif problem == "garbled_time":
        stamp = "yesterday"
    response = signed_post(api, path, body, token, secret, timestamp=stamp, signature=signature)
    assert response.status_code == 401
    assert response.json()["code"] == 2001
    assert not Command.objects.exists()


def test_a_replayed_request_is_refused(api, signer):
    _, secret, token, device = signer
    stamp = str(int(time.time()))
    body = {"charge_power": 7}
    signature = signature_for(secret, "POST", start_path(device), stamp, json.dumps(body).encode())
    first = signed_post(api, start_path(device), body, token, secret, stamp, signature)
    assert first.status_code == 200
    again = signed_post(api, start_path(device), body, token, secret, stamp, signature)
    assert again.status_code == 401
    assert "Replayed" in again.json()["message"]


def test_a_replay_is_refused_even_after_redis_forgot_everything(api, signer):
    _, secret, token, device = signer
    stamp = str(int(time.time()))
    signature = signature_for(secret, "POST", start_path(device), stamp, b"{}")
    assert (
        signed_post(api, start_path(device), {}, token, secret, stamp, signature).status_code == 200
    )
    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # a Redis restart without persistence
    again = signed_post(api, start_path(device), {}, token, secret, stamp, signature)
    assert again.status_code == 401
    assert Command.objects.count() == 1


def test_the_sweep_forgets_signatures_only_once_they_cannot_pass_the_clock_check(api, signer):
    _, secret, token, device = signer
    assert signed_post(api, start_path(device), {}, token, secret).status_code == 200
    skew = settings.TELLUS_CLOCK_SKEW_SECONDS
    assert forget_expired_signatures(timezone.now() + timedelta(seconds=2 * skew - 5)) == 0
    assert forget_expired_signatures(timezone.now() + timedelta(seconds=2 * skew + 5)) == 1


def test_required_signature_missing_on_a_write_is_2001(api, signer):
    _, _, token, device = signer
    response = api.post(start_path(device), {}, token)
    assert response.status_code == 401
    assert not Command.objects.exists()
    assert api.get("/v1/operator/sites", token).status_code == 200  # reads need none


def test_clients_not_requiring_signatures_may_still_sign(
    api, make_client, operator_token, assigned_device
):
    client, secret = make_client()
    token = operator_token(client, secret)
    device = assigned_device(client)
    Connector.objects.create(device=device, connector_id=1)
    assert signed_post(api, start_path(device), {}, token, secret).status_code == 200
    assert api.post(start_path(device), {}, token).status_code == 409  # unsigned is fine too


def test_signed_get_with_query_string(api, signer):
    _, secret, token, _ = signer
    path = "/v1/operator/sites?page=1&size=5"
    stamp = str(int(time.time()))
    response = api.client.get(
        path,
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_X_SIGNATURE=signature_for(secret, "GET", path, stamp, b""),
        HTTP_X_TIMESTAMP=stamp,
    )
    assert response.status_code == 200, response.content


def test_rotation_moves_signing_to_the_new_secret(api, signer, operator_token):
    client, old_secret, _, device = signer
    _, new_secret = provisioning.rotate_client_secret(Actor.platform(), client.client_id)
    token = operator_token(client, new_secret)
    assert signed_post(api, start_path(device), {}, token, old_secret).status_code == 401
    assert signed_post(api, start_path(device), {}, token, new_secret).status_code == 200
