"""POST /v1/operator/oauth/token: the client-credentials grant."""

import time

import pytest

from fleet.actors import Actor
from fleet.models import ApiClient
from fleet.services import provisioning

pytestmark = pytest.mark.django_db

TOKEN = "/v1/operator/oauth/token"


def grant(client: ApiClient, secret: str) -> dict:
    return {
        "client_id": client.client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
    }


def test_token_fields_are_at_top_level_and_in_the_envelope(api, make_client):
    response = api.post(TOKEN, grant(*make_client()))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["access_token"]
    assert body["code"] == 0
    assert body["message"] == "success"
    assert body["data"] == {
        "access_token": body["access_token"],
        "token_type": "Bearer",
        "expires_in": 86400,
    }


def test_the_token_opens_the_operator_api(api, make_client):
    token = api.post(TOKEN, grant(*make_client())).json()["access_token"]
    assert api.get("/v1/operator/sites", token).status_code == 200


def test_form_encoded_grant_is_accepted_for_generic_oauth_clients(api, make_client):
    client, secret = make_client()
    response = api.raw(
        "post",
        TOKEN,
        f"client_id={client.client_id}&client_secret={secret}&grant_type=client_credentials",
        "application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("wrong", ["secret", "client"])
def test_bad_credentials_are_401_2001(api, make_client, wrong):
    client, secret = make_client()
    body = grant(client, secret)
    if wrong == "secret":
        body["client_secret"] = secret + "x"
    else:
        body["client_id"] = "cli_unknown"
    response = api.post(TOKEN, body)
    assert response.status_code == 401
    assert response.json()["code"] == 2001
    assert "access_token" not in response.json()


def test_inactive_client_gets_no_token_and_its_tokens_stop_working(
    api, make_client, django_capture_on_commit_callbacks
):
    client, secret = make_client()
    token = api.post(TOKEN, grant(client, secret)).json()["access_token"]
    with django_capture_on_commit_callbacks(execute=True):
        client.is_active = False
        client.save()
    assert api.post(TOKEN, grant(client, secret)).json()["code"] == 2001
    assert api.get("/v1/operator/sites", token).json()["code"] == 2001


def test_missing_grant_type_is_1002(api, make_client):
    client, secret = make_client()
    body = grant(client, secret)
    del body["grant_type"]
    response = api.post(TOKEN, body)
    assert response.status_code == 400
    assert response.json()["details"] == {"field": "grant_type"}


def test_new_tokens_do_not_invalidate_earlier_ones(api, make_client):
    client, secret = make_client()
    first = api.post(TOKEN, grant(client, secret)).json()["access_token"]
    second = api.post(TOKEN, grant(client, secret)).json()["access_token"]
    assert first != second
    assert api.get("/v1/operator/sites", first).status_code == 200
    assert api.get("/v1/operator/sites", second).status_code == 200


def test_token_lifetime_follows_the_setting_and_expiry_is_2002(api, make_client, settings):
    settings.TELLUS_TOKEN_TTL_SECONDS = 1
    response = api.post(TOKEN, grant(*make_client()))
    assert response.json()["expires_in"] == 1
    token = response.json()["access_token"]
    time.sleep(2.1)
    expired = api.get("/v1/operator/sites", token)
    assert expired.status_code == 401
    assert expired.json()["code"] == 2002


def test_rotating_the_secret_invalidates_earlier_tokens(api, make_client):
    client, old_secret = make_client()
    old_token = api.post(TOKEN, grant(client, old_secret)).json()["access_token"]
    _, new_secret = provisioning.rotate_client_secret(Actor.platform(), client.client_id)

    assert api.get("/v1/operator/sites", old_token).json()["code"] == 2001
    assert api.post(TOKEN, grant(client, old_secret)).json()["code"] == 2001
    new_token = api.post(TOKEN, grant(client, new_secret)).json()["access_token"]
    assert api.get("/v1/operator/sites", new_token).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "bearer eyJhbGciOiJub25lIn0.e30."],
)
def test_garbled_tokens_are_2001(api, header):
    response = api.client.get("/v1/operator/sites", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == 2001


def test_a_token_signed_with_another_key_is_2001(api, make_client, settings):
    token = api.post(TOKEN, grant(*make_client())).json()["access_token"]
    settings.SECRET_KEY = "another-installation"
    assert api.get("/v1/operator/sites", token).json()["code"] == 2001


def test_the_secret_is_stored_only_as_a_digest(make_client):
    client, secret = make_client()
    stored = ApiClient.objects.get(pk=client.pk)
    assert secret not in stored.secret_hash
    assert stored.secret_hash.startswith("sha256$")
    assert stored.check_secret(secret)


def test_deleting_a_client_revokes_its_tokens(api, make_client):
    client, secret = make_client()
    token = api.post(TOKEN, grant(client, secret)).json()["access_token"]
    assert api.get("/v1/operator/sites", token).status_code == 200
    ApiClient.objects.filter(pk=client.pk).delete()
    assert api.get("/v1/operator/sites", token).json()["code"] == 2001


@pytest.mark.parametrize(
    "change",
    [{"scopes": ["read"]}, {"scopes": ["read", "write", "admin"]}, {"is_active": False}],
)
def test_a_change_of_what_tokens_carry_revokes_them(
    api, make_client, django_capture_on_commit_callbacks, change
):
    client, secret = make_client()
    token = api.post(TOKEN, grant(client, secret)).json()["access_token"]
    with django_capture_on_commit_callbacks(execute=True):
        for field, value in change.items():
            setattr(client, field, value)
        client.save()
    assert api.get("/v1/operator/sites", token).json()["code"] == 2001


def test_reactivating_a_client_does_not_revive_its_old_tokens(
    api, make_client, django_capture_on_commit_callbacks
):
    client, secret = make_client()
    token = api.post(TOKEN, grant(client, secret)).json()["access_token"]
    for active in (False, True):
        with django_capture_on_commit_callbacks(execute=True):
            client.is_active = active
            client.save()
    assert api.get("/v1/operator/sites", token).json()["code"] == 2001
    fresh = api.post(TOKEN, grant(client, secret)).json()["access_token"]
    assert api.get("/v1/operator/sites", fresh).status_code == 200


def test_a_save_that_changes_nothing_tokens_carry_keeps_them(
    api, make_client, django_capture_on_commit_callbacks
):
    client, secret = make_client()
    token = api.post(TOKEN, grant(client, secret)).json()["access_token"]
    with django_capture_on_commit_callbacks(execute=True):
        client.name = "Renamed"
        client.save()
    assert api.get("/v1/operator/sites", token).status_code == 200
