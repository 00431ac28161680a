"""Regressions (found by fuzzing): requests Django itself refuses before a view runs.

- More query parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000) made Django raise
  TooManyFieldsSent while the route read its query: a 500. It is the client's mistake:
  400/1001 naming the query.
- A Host header outside ALLOWED_HOSTS got Django's HTML "Bad Request (400)" under /v1,
  where every answer is the envelope.
"""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(acme):
    return acme.token


@pytest.mark.parametrize("count", [1_001, 5_000])
@pytest.mark.parametrize(
    "path", ["/v1/operator/sites", "/v1/operator/devices", "/v1/operator/faults"]
)
def test_too_many_query_parameters_are_a_client_error(api, token, path, count):
    query = "&".join(["page=1"] * count)
    response = api.client.get(f"{path}?{query}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == 1001
    assert body["details"]["field"] == "query"


def test_a_thousand_parameters_are_still_fine(api, token):
    query = "&".join(["page=1"] * 999)
    response = api.client.get(f"/v1/operator/sites?{query}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ["/v1/operator/sites", "/v1/device/register", "/v1/nowhere"])
def test_a_host_outside_allowed_hosts_gets_the_envelope(api, path):
    response = api.client.get(path, HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"code": 1001, "message": "Bad request", "data": None}
