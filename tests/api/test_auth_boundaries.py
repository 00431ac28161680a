"""Tokens of one surface never open the other; scopes and tenancy are enforced."""

import pytest

from fleet.errors import NotAuthenticated
from fleet.services.auth import authenticate_device, authenticate_operator

pytestmark = pytest.mark.django_db


def test_device_token_is_refused_by_the_operator_api(api, register_device, device_token):
    token = device_token(register_device())
    response = api.get("/v1/operator/sites", token)
    assert response.status_code == 401
    assert response.json()["code"] == 2001


def test_operator_token_is_refused_as_a_device_token(make_client, operator_token):
    token = operator_token(*make_client())
    with pytest.raises(NotAuthenticated):
        authenticate_device(token)
    assert authenticate_operator(token).scopes == ("read", "write")


def test_device_token_is_not_an_operator_token(register_device, device_token):
    token = device_token(register_device())
    with pytest.raises(NotAuthenticated):
        authenticate_operator(token)
    assert authenticate_device(token).device_id.startswith("dvc_")


def test_a_client_without_read_scope_is_403_2003(api, make_client, operator_token):
    token = operator_token(*make_client(scopes=["write"]))
    response = api.get("/v1/operator/sites", token)
    assert response.status_code == 403
    assert response.json()["code"] == 2003


def test_scope_is_checked_after_authentication(api):
    # An anonymous caller learns nothing about scopes: 401 comes first.
    assert api.get("/v1/operator/sites").status_code == 401


def test_authentication_comes_before_validation(api):
    response = api.get("/v1/operator/sites", None, size=1000)
    assert response.json()["code"] == 2001
