"""Per-client rate classes on the operator side (decision: rate-buckets)."""

import pytest

pytestmark = pytest.mark.django_db


def test_queries_share_one_bucket_per_client(api, acme, rival, settings):
    settings.TELLUS_RATE_OPERATOR_QUERY = (2, 60)
    token = acme[1]
    assert api.get("/v1/operator/sites", token).status_code == 200
    assert api.get("/v1/operator/charging-records", token).status_code == 200
    refused = api.get("/v1/operator/devices", token)
    assert refused.status_code == 429
    assert refused.json()["code"] == 5001
    retry = refused.json()["details"]["retry_after_seconds"]
    assert isinstance(retry, int) and 1 <= retry <= 60
    assert refused["Retry-After"] == str(retry)
    assert api.get("/v1/operator/sites", rival[1]).status_code == 200  # its own quota


def test_issued_tokens_are_limited_per_client(api, make_client, settings):
    settings.TELLUS_RATE_TOKEN = (2, 60)
    client, secret = make_client()
    grant = {
        "client_id": client.client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
    }
    assert api.post("/v1/operator/oauth/token", grant).status_code == 200
    assert api.post("/v1/operator/oauth/token", grant).status_code == 200
    refused = api.post("/v1/operator/oauth/token", grant)
    assert refused.status_code == 429
    assert refused.json()["code"] == 5001


def test_anonymous_requests_do_not_use_a_clients_quota(api, acme, settings):
    settings.TELLUS_RATE_OPERATOR_QUERY = (1, 60)
    for _ in range(3):
        assert api.get("/v1/operator/sites").status_code == 401
    assert api.get("/v1/operator/sites", acme[1]).status_code == 200
