"""Regression (found by fuzzing): refusals made before the legacy start/stop views run
(NUL in the query or path, a non-JSON content type, an oversized body, a wrong method)
came back in the v1 envelope; those four endpoints answer every error as
`{"Status", "Reason", "Code"}` (decision: legacy-errors). The two query endpoints keep the envelope.
"""

import json

import pytest
from django.test import override_settings

from fleet.models import LegacyOrder

pytestmark = pytest.mark.django_db

STATUS_ROUTES = {
    "/v1/cp/start_charging": "START_FAILED",
    "/v1/cp/start_discharging": "START_FAILED",
    "/v1/cp/stop_charging": "Reject",
    "/v1/cp/stop_discharging": "Reject",
}
BODY = {"OrderId": "ORD-1", "ChargePointId": "dvc_000000000000", "ConnectorId": 1}


@pytest.fixture
def token(acme):
    return acme.token


def assert_status_shape(response, failure: str, http_status: int, code: int) -> None:
    assert response.status_code == http_status, response.content
    body = response.json()
    assert body["Status"] == failure, body
    assert body["Code"] == code, body
    assert isinstance(body["Reason"], str) and body["Reason"], body
    assert "code" not in body, body


@pytest.mark.parametrize("path", sorted(STATUS_ROUTES))
def test_nul_in_the_query(api, token, path):
    response = api.client.post(
        f"{path}?x=%00", json.dumps(BODY), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert_status_shape(response, STATUS_ROUTES[path], 400, 1001)
    assert response.json()["Details"]["field"] == "x"


@pytest.mark.parametrize("path", sorted(STATUS_ROUTES))
def test_a_non_json_content_type(api, token, path):
    response = api.client.post(
        path, json.dumps(BODY), content_type="text/plain", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert_status_shape(response, STATUS_ROUTES[path], 400, 1001)
    assert LegacyOrder.objects.count() == 0


@pytest.mark.parametrize("path", sorted(STATUS_ROUTES))
@override_settings(TELLUS_MAX_BODY_BYTES=1024)
def test_an_oversized_body(api, token, path):
    body = {**BODY, "Note": "x" * 2048}
    response = api.client.post(
        path, json.dumps(body), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert_status_shape(response, STATUS_ROUTES[path], 400, 1001)


@pytest.mark.parametrize("path", sorted(STATUS_ROUTES))
def test_a_wrong_method(api, token, path):
    response = api.client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_status_shape(response, STATUS_ROUTES[path], 405, 1001)
    assert response["Allow"] == "POST"


@pytest.mark.parametrize("path", ["/v1/customer/query_station_info", "/v1/cp/query_station_status"])
def test_the_query_endpoints_keep_the_envelope(api, token, path):
    response = api.client.put(
        f"{path}?x=%00", "{}", content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == 1001
