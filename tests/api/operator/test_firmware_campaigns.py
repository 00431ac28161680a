"""Firmware campaigns through the operator API, as a partner uses them: create, read,
pause, resume, cancel, and every refusal."""

import pytest

from fleet.services import firmware_campaigns
from tests import factories

pytestmark = pytest.mark.django_db

BASE = "/v1/operator/firmware-campaigns"
URL = "https://firmware.example.com/tp-dc180-3.1.0.bin"


def body(**fields):
    return {"name": "F-0421 fix", "target_version": "3.1.0", "package_url": URL, **fields}


@pytest.fixture
def fleet(acme):
    depot = factories.site(acme.client)
    return [
        factories.assigned_device(acme.client, on=depot, firmware_version="3.0.1") for _ in range(3)
    ]


def test_create_read_pause_resume_cancel(api, acme, fleet):
    created = api.post(
        BASE,
        body(
            device_ids=[d.device_id for d in fleet],
            stages=[34, 100],
            health_window_minutes=10,
            halt_if={"failed_percent": 25, "fault_codes": ["F-0411"]},
        ),
        acme.token,
    )
    assert created.status_code == 200, created.content
    data = created.json()["data"]
    campaign_id = data["campaign_id"]
    assert data["status"] == "running"
    assert data["halt_if"] == {
        "failed_percent": 25.0,
        "fault_codes": ["F-0411"],
        "fault_rate_factor": 2.0,
    }
    assert [s["chargers"] for s in data["stage_progress"]] == [2, 1]
    assert data["counts"]["queued"] == 3
    assert {c["device_id"] for c in data["chargers"]} == {d.device_id for d in fleet}
    assert all(c["from_version"] == "3.0.1" for c in data["chargers"])

    listed = api.get(BASE, acme.token, status="running").json()["data"]
    assert listed["total"] == 1 and listed["items"][0]["campaign_id"] == campaign_id

    firmware_campaigns.drive_campaigns()
    one = api.get(f"{BASE}/{campaign_id}", acme.token).json()["data"]
    assert one["stage_progress"][0]["counts"]["sent"] == 2

    assert api.post(f"{BASE}/{campaign_id}/pause", None, acme.token).json()["data"]["status"] == (
        "paused"
    )
    again = api.post(f"{BASE}/{campaign_id}/pause", None, acme.token)
    assert again.status_code == 409 and again.json()["code"] == 4001
    assert again.json()["details"]["current"] == "paused"
    assert api.post(f"{BASE}/{campaign_id}/resume", None, acme.token).json()["data"]["status"] == (
        "running"
    )
    cancelled = api.post(f"{BASE}/{campaign_id}/cancel", None, acme.token).json()["data"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["counts"]["skipped"] == 3
    twice = api.post(f"{BASE}/{campaign_id}/cancel", None, acme.token)
    assert twice.status_code == 409 and twice.json()["details"]["current"] == "cancelled"
    resumed = api.post(f"{BASE}/{campaign_id}/resume", None, acme.token)
    assert resumed.status_code == 409


def test_create_by_selection(api, acme, fleet):
    created = api.post(BASE, body(selection={"model": "TP-DC180"}), acme.token)
    assert created.status_code == 200, created.content
    assert created.json()["data"]["selection"] == {"model": "TP-DC180"}
    assert created.json()["data"]["counts"]["queued"] == 3


def test_a_charger_in_another_campaign_is_a_conflict(api, acme, fleet):
    first = api.post(BASE, body(device_ids=[fleet[0].device_id]), acme.token)
    campaign_id = first.json()["data"]["campaign_id"]
    second = api.post(BASE, body(device_ids=[fleet[0].device_id, fleet[1].device_id]), acme.token)
    assert second.status_code == 409 and second.json()["code"] == 4001
    assert second.json()["details"]["campaign_id"] == campaign_id
    assert fleet[0].device_id in second.json()["message"]


@pytest.mark.parametrize(
    "fields",
    [
        {"stages": [50, 40, 100]},
        {"stages": [0, 100]},
        {"stages": [101]},
        {"stages": [50]},
        {"stages": []},
        {"stages": [*range(1, 21), 100]},
        {"stages": ["50", 100]},
        {"package_url": "ftp://firmware.example.com/f.bin"},
        {"package_url": "javascript:alert(1)"},
        {"name": "x" * 121},
        {"name": ""},
        {"health_window_minutes": -1},
        {"health_window_minutes": 10**12},
        {"halt_if": {"failed_percent": 101}},
        {"halt_if": {"fault_rate_factor": 0}},
        {"selection": {"model": "TP-DC180"}},  # with device_ids too
        {"device_ids": None},  # neither
        {"device_ids": []},
        {"target_version": "3.0.1"},  # every charger already on it: nothing to upgrade
    ],
)
def test_bad_requests_are_1001(api, acme, fleet, fields):
    request = body(**{"device_ids": [fleet[0].device_id], **fields})
    if request["device_ids"] is None:
        request.pop("device_ids")
    answer = api.post(BASE, request, acme.token)
    assert answer.status_code == 400, (fields, answer.content)
    assert answer.json()["code"] == 1001


def test_nul_in_a_field_is_refused(api, acme, fleet):
    answer = api.post(BASE, body(name="a\x00b", device_ids=[fleet[0].device_id]), acme.token)
    assert answer.status_code == 400


def test_tenants_are_isolated(api, acme, rival, fleet):
    foreign = factories.assigned_device(rival.client, firmware_version="3.0.1")
    refused = api.post(BASE, body(device_ids=[foreign.device_id]), acme.token)
    assert refused.status_code == 404 and refused.json()["code"] == 3001
    site = api.post(BASE, body(selection={"site_ids": [foreign.site_id]}), acme.token)
    assert site.status_code == 404 and site.json()["code"] == 3001

    campaign_id = api.post(BASE, body(device_ids=[fleet[0].device_id]), acme.token).json()["data"][
        "campaign_id"
    ]
    assert api.get(f"{BASE}/{campaign_id}", rival.token).status_code == 404
    for move in ("pause", "resume", "cancel"):
        answer = api.post(f"{BASE}/{campaign_id}/{move}", None, rival.token)
        assert answer.status_code == 404 and answer.json()["code"] == 3001
    assert api.get(BASE, rival.token).json()["data"]["total"] == 0
    assert api.get(f"{BASE}/fwc_unknown", acme.token).status_code == 404


def test_scopes(api, fleet):
    reader, secret = factories.operator_client(factories.ACME, ["read"])
    token = factories.operator_token(reader, secret)
    assert api.post(BASE, body(device_ids=[fleet[0].device_id]), token).status_code == 403
    assert api.get(BASE, token).status_code == 200


def test_the_operations_are_marked_extensions(client):
    paths = client.get("/v1/openapi.json").json()["paths"]
    operations = [
        paths[BASE]["post"],
        paths[BASE]["get"],
        paths[BASE + "/{campaign_id}"]["get"],
        paths[BASE + "/{campaign_id}/pause"]["post"],
    ]
    assert all(op.get("x-tellus-extension") for op in operations)
