"""Guessing a secret slows the guesser, never the owner.

Both token endpoints count wrong secrets per id *and* source address, and issued tokens
per id: somebody who knows a client or device id and hammers it with wrong secrets is
refused (429/5001) from their own address, while the owner's correct secret still gets
a token from its own.
"""

import json
from ipaddress import ip_network

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

GUESSER, OWNER = "203.0.113.66", "198.51.100.7"


def request_token(path: str, grant: dict, address: str, **headers: str):
    return Client().post(
        path, json.dumps(grant), content_type="application/json", REMOTE_ADDR=address, **headers
    )


@pytest.fixture(params=["operator", "device"])
def endpoint(request, make_client, register_device):
    """(token path, the correct grant) for an operator client and for a charger."""
    if request.param == "operator":
        client, secret = make_client()
        grant = {"client_id": client.client_id, "client_secret": secret}
        return (
            "/v1/operator/oauth/token",
            {**grant, "grant_type": "client_credentials"},
            "client_secret",
        )
    device = register_device()
    grant = {"device_id": device["device_id"], "device_secret": device["device_secret"]}
    return "/v1/device/token", {**grant, "grant_type": "client_credentials"}, "device_secret"


def test_a_guesser_is_refused_while_the_owner_still_gets_tokens(endpoint, settings):
    settings.TELLUS_RATE_TOKEN_FAILURES = (3, 60)
    path, grant, secret_field = endpoint
    wrong = {**grant, secret_field: "sk_" + "0" * 64}
    statuses = [request_token(path, wrong, GUESSER).status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 429, 429, 429]
    refused = request_token(path, wrong, GUESSER).json()
    assert refused["code"] == 5001
    assert 1 <= refused["details"]["retry_after_seconds"] <= 60

    owner = request_token(path, grant, OWNER)
    assert owner.status_code == 200
    assert owner.json()["access_token"]


def test_the_guessers_correct_secret_is_refused_too_once_its_address_is_blocked(endpoint, settings):
    # A blocked address learns nothing: the right secret is refused like a wrong one.
    settings.TELLUS_RATE_TOKEN_FAILURES = (2, 60)
    path, grant, secret_field = endpoint
    wrong = {**grant, secret_field: "sk_" + "1" * 64}
    for _ in range(2):
        assert request_token(path, wrong, GUESSER).status_code == 401
    assert request_token(path, grant, GUESSER).status_code == 429


def test_correct_secrets_do_not_spend_the_failure_allowance(endpoint, settings):
    settings.TELLUS_RATE_TOKEN_FAILURES = (1, 60)
    settings.TELLUS_RATE_TOKEN = (100, 60)
    path, grant, _ = endpoint
    for _ in range(5):
        assert request_token(path, grant, OWNER).status_code == 200


def test_unknown_ids_are_limited_like_known_ones(endpoint, settings):
    settings.TELLUS_RATE_TOKEN_FAILURES = (2, 60)
    path, grant, _ = endpoint
    id_field = "client_id" if "client_id" in grant else "device_id"
    unknown = {**grant, id_field: grant[id_field][:-4] + "ffff"}
    statuses = [request_token(path, unknown, GUESSER).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_behind_a_trusted_proxy_each_caller_has_its_own_failure_bucket(endpoint, settings):
    settings.TELLUS_RATE_TOKEN_FAILURES = (2, 60)
    settings.TELLUS_TRUSTED_PROXIES = (ip_network("10.0.0.0/8"),)
    path, grant, secret_field = endpoint
    wrong = {**grant, secret_field: "sk_" + "2" * 64}
    via_proxy = {"HTTP_X_FORWARDED_FOR": GUESSER}
    for _ in range(2):
        assert request_token(path, wrong, "10.0.0.5", **via_proxy).status_code == 401
    assert request_token(path, wrong, "10.0.0.5", **via_proxy).status_code == 429
    # The owner arrives through the same proxy and is not the guesser.
    owner = request_token(path, grant, "10.0.0.5", HTTP_X_FORWARDED_FOR=OWNER)
    assert owner.status_code == 200
