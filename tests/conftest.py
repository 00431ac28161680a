import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from fleet.models import ApiClient, Device, Site
from fleet.services import provisioning


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Credential versions and rate-limit counters live in Redis; start each test clean."""
    cache.clear()
    yield


class ApiClientHelper:
    """A Django test client that speaks JSON and bearer tokens."""

    def __init__(self) -> None:
        self.client = Client()

    def _headers(self, token: str | None) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def get(self, path: str, token: str | None = None, **params: Any):
        return self.client.get(path, params, **self._headers(token))

    def post(self, path: str, body: Any = None, token: str | None = None):
        raw = "" if body is None else json.dumps(body)
        return self.client.post(path, raw, content_type="application/json", **self._headers(token))

    def raw(self, method: str, path: str, data: bytes | str, content_type: str, **extra):
        return getattr(self.client, method)(path, data, content_type=content_type, **extra)


@pytest.fixture
def api() -> ApiClientHelper:
    return ApiClientHelper()


@pytest.fixture
def make_client(db) -> Callable[..., tuple[ApiClient, str]]:
    """Create an operator API client: make_client("Acme", scopes=["read"])."""

    def make(operator: str = "Acme Charging", scopes: list[str] | None = None):
        return provisioning.create_operator_client(operator, scopes or ["read", "write"])

    return make


@pytest.fixture
def operator_token(api) -> Callable[[ApiClient, str], str]:
    def issue(client: ApiClient, secret: str) -> str:
        response = api.post(
            "/v1/operator/oauth/token",
            {
                "client_id": client.client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
            },
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return issue


@pytest.fixture
def register_device(api, db) -> Callable[..., dict]:
    """Register a charger through the API; returns device_id and device_secret."""
    counter = iter(range(1, 10_000))

    def register(**overrides: Any) -> dict:
        body = {
            "sn": f"SN-TEST-{next(counter):05d}",
            "model": "TP-DC180",
            "manufacturer": "Tellus Power",
            "firmware_version": "3.1.0",
            **overrides,
        }
        response = api.post("/v1/device/register", body)
        assert response.status_code == 200, response.content
        return response.json()["data"]

    return register


@pytest.fixture
def device_token(api) -> Callable[[dict], str]:
    def issue(registration: dict) -> str:
        response = api.post(
            "/v1/device/token",
            {
                "device_id": registration["device_id"],
                "device_secret": registration["device_secret"],
                "grant_type": "client_credentials",
            },
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return issue


@pytest.fixture
def site_for(db) -> Callable[..., Site]:
    def make(client: ApiClient, name: str = "Depot", **kwargs: Any) -> Site:
        return provisioning.create_site(client.client_id, name, **kwargs)

    return make


@pytest.fixture
def assigned_device(register_device, site_for) -> Callable[..., Device]:
    """A registered charger placed on a site of the given client's operator."""

    def make(client: ApiClient, site: Site | None = None, **overrides: Any) -> Device:
        registration = register_device(**overrides)
        site = site or site_for(client)
        return provisioning.assign_device(registration["device_id"], site.site_id)

    return make
