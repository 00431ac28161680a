"""`GET /v1/operator/audit-logs` answers who (actor), for whom (operator), on what
(subject), before → after and from where — only ever for the caller's own operator."""

import pytest

from fleet.actors import Actor
from fleet.models import Connector
from fleet.services import audit, provisioning

pytestmark = pytest.mark.django_db


def listed(api, token: str, **filters) -> dict:
    response = api.get("/v1/operator/audit-logs", token, **filters)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_an_entry_lists_actor_operator_subject_before_after_and_address(api, acme):
    ann = Actor("user", operator_id=acme[0].operator_id, username="ann", ip="198.51.100.4")
    audit.record(
        ann, action="update", resource_type="site", resource_id="site_1",
        details={"via": "admin"}, before={"name": "Depot"}, after={"name": "North Depot"},
    )  # fmt: skip

    [entry] = listed(api, acme[1], action="update")["items"]
    assert entry["actor"] == "user:ann"
    assert entry["operator_id"] == acme[0].operator_id
    assert (entry["action"], entry["resource_type"], entry["resource_id"]) == (
        "update",
        "site",
        "site_1",
    )
    assert entry["before"] == {"name": "Depot"}
    assert entry["after"] == {"name": "North Depot"}
    assert entry["details"] == {"via": "admin"}
    assert entry["ip"] == "198.51.100.4"
    assert entry["at"]


def test_entries_without_a_change_list_null_before_and_after(api, acme, assigned_device):
    device = assigned_device(acme[0])
    Connector.objects.create(device=device, connector_id=1, state="idle")
    api.post(f"/v1/operator/devices/{device.device_id}/connectors/1/start", {}, acme[1])

    [entry] = listed(api, acme[1], action="execute_command")["items"]
    assert entry["before"] is None and entry["after"] is None
    assert entry["details"]["command"] == "start_charging"
    assert entry["actor"] == f"client:{acme[0].client_id}"


def test_a_secret_rotation_lists_the_version_change_and_no_secret(
    api, acme, operator_token, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client, secret = provisioning.rotate_client_secret(
            Actor("platform", ip="192.0.2.9"), acme[0].client_id
        )
    token = operator_token(client, secret)

    response = api.get("/v1/operator/audit-logs", token, action="rotate_secret")
    [entry] = response.json()["data"]["items"]
    assert (entry["before"]["secret_version"], entry["after"]["secret_version"]) == (1, 2)
    assert entry["after"]["secret_hash"] == "[redacted]"
    assert entry["ip"] == "192.0.2.9"
    for leaked in (secret, client.secret_hash, client.secret_sealed):
        assert leaked not in response.content.decode()


def test_another_operator_never_sees_the_entries(api, acme, rival):
    for operator_id in (acme[0].operator_id, None):  # acme's own and platform-wide
        audit.record(
            Actor("user", username="ann"), action="update", resource_type="site",
            resource_id="site_1", operator_id=operator_id,
            before={"name": "a"}, after={"name": "b"},
        )  # fmt: skip

    assert listed(api, rival[1], resource_type="site")["total"] == 0
    assert listed(api, rival[1], resource_id="site_1")["total"] == 0
    assert listed(api, acme[1], resource_type="site")["total"] == 1


def test_the_new_fields_are_in_the_openapi_document(api):
    schemas = api.get("/v1/openapi.json").json()["components"]["schemas"]
    fields = schemas["AuditEntryOut"]["properties"]
    assert {"actor", "operator_id", "resource_type", "resource_id", "before", "after", "ip"} <= set(
        fields
    )
