"""Every /v1 failure comes back in the envelope, with the HTTP status of the code table."""

import json

import pytest
import redis

pytestmark = pytest.mark.django_db

REGISTER = "/v1/device/register"
VALID_REGISTRATION = {
    "sn": "SN-ENV-1",
    "model": "TP-DC180",
    "manufacturer": "Tellus Power",
    "firmware_version": "3.1.0",
}


def assert_error(response, http_status: int, code: int) -> dict:
    assert response.status_code == http_status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert body.get("data") is None
    return body


def test_unknown_path_under_v1_is_3001(api):
    assert_error(api.get("/v1/operator/no-such-thing"), 404, 3001)
    assert_error(api.get("/v1/nothing/here/at/all"), 404, 3001)


def test_wrong_method_is_enveloped_405(api):
    body = assert_error(api.get(REGISTER), 405, 1001)
    assert "method" in body["message"].lower()


def test_malformed_json_is_1001(api):
    response = api.raw("post", REGISTER, '{"sn": "x",', "application/json")
    body = assert_error(response, 400, 1001)
    assert body["details"]["field"] == "body"


def test_body_that_is_not_an_object_is_1001(api):
    response = api.raw("post", REGISTER, "[1, 2, 3]", "application/json")
    body = assert_error(response, 400, 1001)
    assert body["details"]["field"] == "body"


def test_unsupported_content_type_is_1001(api):
    response = api.raw("post", REGISTER, json.dumps(VALID_REGISTRATION), "text/plain")
    body = assert_error(response, 400, 1001)
    assert body["details"] == {"field": "Content-Type", "value": "text/plain"}


def test_form_encoding_is_refused_outside_the_token_endpoints(api):
    response = api.raw("post", REGISTER, "sn=x&model=y", "application/x-www-form-urlencoded")
    assert_error(response, 400, 1001)


def test_oversized_body_is_refused_before_parsing(api, settings):
    settings.TELLUS_MAX_BODY_BYTES = 2048
    padded = {**VALID_REGISTRATION, "padding": "x" * 4096}
    response = api.post(REGISTER, padded)
    body = assert_error(response, 400, 1001)
    assert body["details"]["reason"] == "too_large"
    assert body["details"]["max_bytes"] == 2048


def test_missing_required_field_is_1002_naming_the_field(api):
    incomplete = {k: v for k, v in VALID_REGISTRATION.items() if k != "manufacturer"}
    body = assert_error(api.post(REGISTER, incomplete), 400, 1002)
    assert body["details"] == {"field": "manufacturer"}


def test_empty_body_is_1002(api):
    body = assert_error(api.post(REGISTER, None), 400, 1002)
    assert body["details"]["field"] == "body"


def test_wrong_type_is_1001_with_field_and_value(api):
    body = assert_error(api.post(REGISTER, {**VALID_REGISTRATION, "sn": 12345}), 400, 1001)
    assert body["details"]["field"] == "sn"
    assert body["details"]["value"] == 12345


def test_wrong_enum_is_1001_with_field_and_value(api):
    body = assert_error(
        api.post(
            "/v1/device/token",
            {"device_id": "dvc_x", "device_secret": "s", "grant_type": "password"},
        ),
        400,
        1001,
    )
    assert body["details"]["field"] == "grant_type"
    assert body["details"]["value"] == "password"


def test_out_of_range_query_parameter_is_1001(api, make_client, operator_token):
    token = operator_token(*make_client())
    for params in ({"size": 101}, {"size": 0}, {"page": 0}, {"page": "first"}):
        body = assert_error(api.get("/v1/operator/sites", token, **params), 400, 1001)
        assert body["details"]["field"] == next(iter(params))
        assert str(body["details"]["value"]) == str(next(iter(params.values())))


def test_unknown_id_is_3001(api, make_client, operator_token):
    token = operator_token(*make_client())
    assert_error(api.get("/v1/operator/devices/dvc_000000000000", token), 404, 3001)


def test_duplicate_is_4001(api):
    assert api.post(REGISTER, VALID_REGISTRATION).status_code == 200
    body = assert_error(api.post(REGISTER, VALID_REGISTRATION), 409, 4001)
    assert body["details"]["field"] == "sn"


def test_unhandled_exception_is_9001_without_leaking_internals(api, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr("api.device.provisioning.register_device", explode)
    response = api.post(REGISTER, VALID_REGISTRATION)
    body = assert_error(response, 500, 9001)
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert "details" not in body


def test_a_redis_failure_is_9001_saying_a_dependency_is_down(api, monkeypatch):
    def unreachable(**kwargs):
        raise redis.ConnectionError("Error 111 connecting to 10.0.0.7:6379. Connection refused.")

    monkeypatch.setattr("api.device.provisioning.register_device", unreachable)
    response = api.post(REGISTER, VALID_REGISTRATION)
    body = assert_error(response, 500, 9001)
    assert body["message"] == "A platform dependency (Redis) is unavailable; retry with backoff"
    assert "10.0.0.7" not in response.content.decode()


def test_authentication_errors_carry_a_bearer_challenge(api):
    response = api.get("/v1/operator/sites")
    assert_error(response, 401, 2001)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_successful_responses_are_enveloped(api, make_client, operator_token):
    token = operator_token(*make_client())
    body = api.get("/v1/operator/sites", token).json()
    assert body["code"] == 0
    assert body["message"] == "success"
    assert set(body["data"]) == {"items", "total", "page", "size"}


def test_paths_outside_v1_keep_django_behaviour(api):
    # The console is not part of the API: a 404 there is an ordinary page, not an envelope.
    response = api.get("/definitely-not-a-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")
