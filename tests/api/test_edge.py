"""The edge rules (api.edge): one test per rule on the functions themselves, then the same
bad requests sent to the charger fast path, a Ninja route and a legacy route, which must
refuse them with the same code and details, each in its own shape."""

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from pydantic import BaseModel, StrictInt

from api.edge import (
    Refusal,
    body_too_large,
    check_body_size,
    check_content_type,
    error_headers,
    validate_body,
    validation_failure,
)
from api.envelope import HTTP_STATUS
from fleet.errors import MissingParameter, TooManyRequests
from tests.conftest import now_iso


def answer(refusal: Refusal | None) -> tuple[int, str, dict[str, Any] | None] | None:
    return None if refusal is None else (refusal.code, refusal.message, refusal.details)


# --- The rules -----------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"


def test_a_body_over_the_limit_is_refused_naming_its_size_and_the_limit(settings):
    settings.TELLUS_MAX_BODY_BYTES = 1024
    assert check_body_size(1024) is None
    assert answer(check_body_size(1025)) == (
        1001,
        "Request body too large (limit 1024 bytes)",
        {"field": "body", "value": 1025, "reason": "too_large", "max_bytes": 1024},
    )
    # Bytes counted while reading stop at the first chunk over: not the body's size.
    assert answer(check_body_size(4096, declared=False)) == (
        1001,
        "Request body too large (limit 1024 bytes)",
        {"field": "body", "reason": "too_large", "max_bytes": 1024},
    )
    # Django's own refusal knows neither number.
    assert answer(body_too_large()) == (
        1001,
        "Request body too large",
        {"field": "body", "reason": "too_large"},
    )


@pytest.mark.parametrize(
    ("content_type", "path", "refused_value"),
    [
        ("application/json", "/v1/device/telemetry", None),
        ("application/merge-patch+json", "/v1/operator/devices/x", None),
        (FORM, "/v1/operator/oauth/token", None),
        (FORM, "/v1/device/token", None),
        (FORM, "/v1/device/register", FORM),
        ("text/plain", "/v1/device/telemetry", "text/plain"),
        ("", "/v1/device/telemetry", ""),
    ],
)  # fmt: skip
def test_only_json_bodies_are_accepted_and_a_form_only_on_the_token_endpoints(
    content_type, path, refused_value
):
    refused = check_content_type(content_type, path)
    if refused_value is None:
        assert refused is None
        return
    assert answer(refused) == (
        1001,
        "Unsupported content type; send application/json",
        {"field": "Content-Type", "value": refused_value or None},
    )


def test_the_first_missing_field_is_1002_before_any_bad_value():
    errors = [
        {"type": "int_type", "loc": ("body", "payload", "a"), "msg": "bad", "input": "x"},
        {"type": "missing", "loc": ("body", "payload", "b", "c"), "msg": "Field required"},
    ]
    refused = validation_failure(errors)
    assert isinstance(refused, MissingParameter)
    assert (refused.code, refused.message, refused.details) == (
        1002,
        "Parameter 'b.c' is required",
        {"field": "b.c"},
    )


def test_a_bad_value_is_1001_with_its_field_value_and_reason():
    errors = [
        {
            "type": "value_error",
            "loc": ("query", "since"),
            "msg": "Value error, not a time",
            "input": "yesterday",
        }
    ]
    assert answer(validation_failure(errors)) == (
        1001,
        "Parameter 'since' is invalid: not a time",
        {"field": "since", "value": "yesterday", "reason": "not a time"},
    )
    # A value JSON cannot carry is reported as text.
    errors = [{"type": "x", "loc": ("body", "payload", "n"), "msg": "bad", "input": b"\x01"}]
    assert validation_failure(errors).details["value"] == "b'\\x01'"


def test_a_body_that_is_not_an_object_is_1001_on_the_body():
    errors = [{"type": "model_type", "loc": ("body", "payload"), "msg": "not a dict", "input": 3}]
    assert answer(validation_failure(errors)) == (
        1001,
        "Request body must be a JSON object",
        {"field": "body", "reason": "not a dict"},
    )


class Sample(BaseModel):
    connector_id: StrictInt
    note: str | None = None


def test_a_body_validated_outside_ninja_names_fields_as_ninja_does():
    assert validate_body(Sample, {"connector_id": 1}) == Sample(connector_id=1)
    with pytest.raises(MissingParameter) as missing:
        validate_body(Sample, {})
    assert missing.value.details == {"field": "connector_id"}
    with pytest.raises(Refusal) as wrong:
        validate_body(Sample, {"connector_id": "one"})
    assert wrong.value.details == {
        "field": "connector_id",
        "value": "one",
        "reason": "Input should be a valid integer",
    }


def test_error_headers_challenge_401s_and_give_429s_their_wait():
    assert error_headers(2001, None) == {"WWW-Authenticate": 'Bearer realm="tellus"'}
    assert error_headers(2002, None) == {"WWW-Authenticate": 'Bearer realm="tellus"'}
    throttled = TooManyRequests(7)
    assert error_headers(throttled.code, throttled.details) == {"Retry-After": "7"}
    assert error_headers(5001, None) == {}
    assert error_headers(1001, {"field": "body"}) == {}
    assert error_headers(2003, None) == {}


def test_a_refusal_carries_its_own_code():
    refused = Refusal(1002, "Parameter 'x' is required", {"field": "x"})
    assert (refused.code, HTTP_STATUS[refused.code]) == (1002, 400)
    assert Refusal(2003, "No").code == 2003


# --- One bad request, three surfaces -------------------------------------------------------

# The Ninja surface is the same telemetry route, reached behind the fast path.
SURFACES = {
    "fastpath": "/v1/device/telemetry",
    "ninja": "/v1/device/telemetry",
    "legacy": "/v1/cp/start_charging",
}
CONNECTOR_FIELD = {"fastpath": "connector_id", "ninja": "connector_id", "legacy": "ConnectorId"}


def valid_body(surface: str) -> dict[str, Any]:
    if surface == "legacy":
        return {"OrderId": "ORD-EDGE-1", "ChargePointId": "dvc_000000000000", "ConnectorId": 1}
    return {
        "timestamp": now_iso(),
        "connector_id": 1,
        "state": "charging",
        "voltage": 230.0,
        "current": 16.0,
        "power": 3.7,
        "energy_delivered": 1.2,
    }


@pytest.fixture
async def token(surface, http, charger, make_client) -> str:
    """A charger's token for the telemetry routes, an operator's for the legacy one."""
    if surface != "legacy":
        return (await charger()).token
    client, secret = await sync_to_async(make_client)()
    issued = await http.post(
        "/v1/operator/oauth/token",
        json={
            "client_id": client.client_id,
            "client_secret": secret,
            "grant_type": "client_credentials",
        },
    )
    assert issued.status_code == 200, issued.text
    return issued.json()["access_token"]


def refusal_in_shape(surface: str, response) -> tuple[int, dict[str, Any] | None]:
    """Code and details, read from the envelope or from the legacy Status shape."""
    body = response.json()
    if surface == "legacy":
        assert body["Status"] == "START_FAILED" and "code" not in body, body
        assert response.status_code == HTTP_STATUS[body["Code"]]
        return body["Code"], body.get("Details")
    assert body["data"] is None and "Status" not in body, body
    assert response.status_code == HTTP_STATUS[body["code"]]
    return body["code"], body.get("details")


def bad_request(surface: str, case: str) -> tuple[bytes, str, int, dict[str, Any]]:
    """The request body, its Content-Type, and the code and details it must get."""
    body, field = valid_body(surface), CONNECTOR_FIELD[surface]
    if case == "too_large":
        content = json.dumps({**body, "padding": "x" * 2048}).encode()
        details = {"field": "body", "value": len(content), "reason": "too_large"}
        return content, "application/json", 1001, {**details, "max_bytes": 1024}
    if case == "content_type":
        content = json.dumps(body).encode()
        return content, "text/plain", 1001, {"field": "Content-Type", "value": "text/plain"}
    if case == "missing":
        del body[field]
        return json.dumps(body).encode(), "application/json", 1002, {"field": field}
    assert case == "wrong_type"
    body[field] = "one"
    details = {"field": field, "value": "one", "reason": "Input should be a valid integer"}
    return json.dumps(body).encode(), "application/json", 1001, details


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["too_large", "content_type", "missing", "wrong_type"])
@pytest.mark.parametrize(
    ("surface", "http"),
    [("fastpath", "fastpath"), ("ninja", "django"), ("legacy", "fastpath")],
    indirect=["http"],
)
async def test_every_surface_refuses_a_bad_request_the_same_way(
    surface, case, http, token, settings
):
    settings.TELLUS_MAX_BODY_BYTES = 1024
    content, content_type, code, details = bad_request(surface, case)
    response = await http.post(
        SURFACES[surface],
        content=content,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    )
    assert refusal_in_shape(surface, response) == (code, details)
