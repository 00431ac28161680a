"""GET /v1/operator/charging-records."""

import pytest

from tests.api.operator.conftest import make_record
from tests.spec import assert_matches, response_schema

pytestmark = pytest.mark.django_db
URL = "/v1/operator/charging-records"


@pytest.fixture
def fleet(acme, assigned_device):
    client, _ = acme
    first, second = assigned_device(client), assigned_device(client)
    make_record(first, "r1", "2025-03-15T08:00:00Z", "2025-03-15T09:00:00Z", 10.0)
    make_record(first, "r2", "2025-03-15T10:00:00Z", "2025-03-15T11:00:00Z", 12.0, connector_id=2)
    make_record(second, "r3", "2025-03-16T10:00:00Z", "2025-03-16T11:30:00Z", 20.0, cost=-3.5,
                vehicle_info={"vin": "LVXFA394XJ1234567", "soc_start": 20, "soc_end": 90},
                stop_reason="ev_disconnected")  # fmt: skip
    return first, second


def ids(response) -> list[str]:
    return [r["record_id"] for r in response.json()["data"]["items"]]


def test_newest_first_with_all_fields(api, acme, fleet):
    response = api.get(URL, acme[1])
    assert response.status_code == 200
    assert ids(response) == ["r3", "r2", "r1"]
    newest = response.json()["data"]["items"][0]
    assert newest["device_id"] == fleet[1].device_id
    assert newest["cost"] == -3.5
    assert newest["vehicle_info"]["vin"] == "LVXFA394XJ1234567"
    assert newest["stop_reason"] == "ev_disconnected"
    assert response.json()["data"]["total"] == 3
    assert_matches(response.json(), response_schema("get", "/operator/charging-records"))


def test_filters(api, acme, fleet):
    first = fleet[0]
    token = acme[1]
    assert ids(api.get(URL, token, device_id=first.device_id)) == ["r2", "r1"]
    assert ids(api.get(URL, token, device_id=first.device_id, connector_id=2)) == ["r2"]
    window = {"start_time": "2025-03-15T09:00:00Z", "end_time": "2025-03-16T10:00:00Z"}
    assert ids(api.get(URL, token, **window)) == ["r2"]  # start_time in [start, end)
    assert ids(api.get(URL, token, start_time="2025-03-16T00:00:00Z")) == ["r3"]
    assert ids(api.get(URL, token, end_time="2025-03-15T10:00:00Z")) == ["r1"]


def test_paging(api, acme, fleet):
    data = api.get(URL, acme[1], page=2, size=2).json()["data"]
    assert (data["total"], data["page"], data["size"]) == (3, 2, 2)
    assert [r["record_id"] for r in data["items"]] == ["r1"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_time": "2025-03-16T00:00:00Z", "end_time": "2025-03-15T00:00:00Z"}, "end_time"),
        ({"start_time": "2025-03-16"}, "start_time"),
        ({"start_time": "2025-03-16T00:00:00"}, "start_time"),
        ({"connector_id": 0}, "connector_id"),
        ({"size": 101}, "size"),
    ],
)
def test_bad_filters_are_1001(api, acme, fleet, params, field):
    response = api.get(URL, acme[1], **params)
    assert response.status_code == 400
    assert response.json()["code"] == 1001
    assert response.json()["details"]["field"] == field


def test_other_operators_records_are_invisible(api, acme, rival, fleet, assigned_device):
    foreign = assigned_device(rival[0])
    make_record(foreign, "theirs", "2025-03-15T08:00:00Z", "2025-03-15T09:00:00Z", 5.0)
    assert "theirs" not in ids(api.get(URL, acme[1]))
    response = api.get(URL, acme[1], device_id=foreign.device_id)
    assert response.status_code == 404
    assert response.json()["code"] == 3001
