import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import connections
from django.test import Client
from hypothesis import settings as hypothesis_settings

from fleet.models import ApiClient, Device, Site
from tests import factories, fast_flush, markers

# No example may fail for taking long: a loaded machine (four workers, browsers) makes
# any time limit a coin toss, and speed is measured by the benchmarks, not asserted.
hypothesis_settings.register_profile("tellus", deadline=None)
hypothesis_settings.load_profile("tellus")

fast_flush.install()

# --- Tiers: `make test-fast` runs what carries none of these markers ------------------------

# Fixtures that start a real server, worker or process for the tests using them.
LIVE_SERVER_FIXTURES = {
    "server",
    "servers",
    "two_servers",
    "tellus_server",
    "celery_worker",
    "worker_factory",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they are, so a new test lands in its tier without thinking:
    the fuzz package is `fuzz`, test_browser_* modules and tests using the `browser`
    fixture are `browser`; both start live servers, so they are `live_server` too, as is
    any test using a live-server fixture."""
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        if "fuzz" in item.path.parts:
            item.add_marker(pytest.mark.fuzz)
            item.add_marker(pytest.mark.live_server)
        if item.path.name.startswith("test_browser_") or "browser" in uses:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.live_server)
        if uses & LIVE_SERVER_FIXTURES:
            item.add_marker(pytest.mark.live_server)
    # The slowest files first: run in parallel (make test: pytest -n, one file a worker at
    # a time), a long file started last would leave the other workers idle at the end.
    weights = defaultdict(int)
    for item in items:
        weights[item.path] = max(weights[item.path], _weight(item))
    items.sort(key=lambda item: -weights[item.path])


HEAVIEST_FIRST = ("fuzz", "browser", "live_server", "slow")


def _weight(item: pytest.Item) -> int:
    """4 for a fuzz test, 3 for a browser test, 2 for another live-server test, 1 for a
    slow one, 0 for the rest."""
    marked = [i for i, name in enumerate(HEAVIEST_FIRST) if item.get_closest_marker(name)]
    return len(HEAVIEST_FIRST) - min(marked) if marked else 0


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    markers.running = frozenset(mark.name for mark in item.iter_markers())


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    markers.running = None


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

    def patch(self, path: str, body: Any, token: str | None = None):
        return self.client.patch(
            path, json.dumps(body), content_type="application/json", **self._headers(token)
        )

    def raw(self, method: str, path: str, data: bytes | str, content_type: str, **extra):
        return getattr(self.client, method)(path, data, content_type=content_type, **extra)


@pytest.fixture
def api() -> ApiClientHelper:
    return ApiClientHelper()


@pytest.fixture
def make_client(db) -> Callable[..., tuple[ApiClient, str]]:
    """Create an operator API client: make_client("Acme", scopes=["read"])."""
    return factories.operator_client


@pytest.fixture
def operator_token(db) -> Callable[[ApiClient, str], str]:
    return factories.operator_token


@pytest.fixture
def acme(db) -> factories.OperatorAccount:
    """Acme Charging with a read/write API client: `client, token = acme`."""
    return factories.OperatorAccount.create(factories.ACME)


@pytest.fixture
def rival(db) -> factories.OperatorAccount:
    """Rival Energy, another operator with a read/write API client."""
    return factories.OperatorAccount.create(factories.RIVAL)


@pytest.fixture
def register_device(db) -> Callable[..., dict]:
    """Register a charger through the API; returns device_id and device_secret."""
    return factories.registration


@pytest.fixture
def device_token(db) -> Callable[[dict], str]:
    return factories.device_token


@pytest.fixture
def site_for(db) -> Callable[..., Site]:
    return factories.site


@pytest.fixture
def assigned_device(db) -> Callable[..., Device]:
    """A registered charger placed on a site of the given client's operator."""
    return factories.assigned_device


@pytest.fixture
def device(acme) -> Device:
    """An ordinary charger (TP-DC180 on firmware 3.1.0) on Acme's depot."""
    return factories.assigned_device(acme.client)


@pytest.fixture(autouse=True)
def _fresh_local_credentials():
    from fleet.services import credential_versions

    credential_versions.forget_local()
    yield


# --- The charger API over ASGI --------------------------------------------------------------

# fastpath: production ASGI app; django: the Ninja routes behind it; orm: the production app
# with the hot path on the ORM reference implementation (what SQLite installs run).
TRANSPORTS = ("fastpath", "django", "orm")


def asgi_app(transport: str):
    from console import asgi

    return asgi.django_asgi_app if transport == "django" else asgi.application


@pytest.fixture
async def http(request, monkeypatch):
    """An httpx client on the ASGI app, cleaning up the loop's pools afterwards."""
    import httpx

    from fleet import db
    from fleet.db import close_pools
    from fleet.live.publish import stop_listeners

    transport = getattr(request, "param", "fastpath")
    if transport == "orm":
        monkeypatch.setattr(db, "uses_postgres", lambda: False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app(transport)), base_url="http://testserver"
    ) as client:
        client.transport_name = transport
        yield client
    await stop_listeners()
    await close_pools()
    # The ORM's async bridge keeps its own connection on its worker thread; close it so
    # the test database can be dropped.
    await sync_to_async(connections.close_all)()


class Charger:
    """A registered charger speaking the device API, as a test's actor."""

    def __init__(self, http, device_id: str, secret: str, token: str):
        self.http, self.device_id, self.secret, self.token = http, device_id, secret, token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def post(self, path: str, body: Any):
        return await self.http.post(f"/v1/device/{path}", json=body, headers=self.headers)

    async def heartbeat(self, status: str = "online", fault_code: int = 0, **extra):
        body = {"timestamp": now_iso(), "status": status, "fault_code": fault_code, **extra}
        return await self.post("heartbeat", body)

    async def telemetry(self, **fields):
        body = {
            "timestamp": now_iso(),
            "connector_id": 1,
            "state": "charging",
            "voltage": 230.0,
            "current": 16.0,
            "power": 3.7,
            "energy_delivered": 1.2,
            **fields,
        }
        return await self.post("telemetry", body)

    async def poll(self, connector_id: int = 1, wait: int | None = 1):
        params = {"connector_id": connector_id}
        if wait is not None:
            params["wait"] = wait
        return await self.http.get("/v1/device/commands", params=params, headers=self.headers)


def now_iso(offset_seconds: float = 0) -> str:
    from datetime import UTC, datetime, timedelta

    moment = datetime.now(UTC) + timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture
def charger(http) -> Callable[..., Any]:
    """`await charger()` registers a new charger over the API and returns it with a token."""
    counter = iter(range(1, 10_000))

    async def make(**overrides: Any) -> Charger:
        body = {
            "sn": f"SN-ASGI-{next(counter):05d}",
            "model": "TP-DC180",
            "manufacturer": "Tellus Power",
            "firmware_version": "3.1.0",
            **overrides,
        }
        registered = await http.post("/v1/device/register", json=body)
        assert registered.status_code == 200, registered.text
        data = registered.json()["data"]
        token = await http.post(
            "/v1/device/token",
            json={
                "device_id": data["device_id"],
                "device_secret": data["device_secret"],
                "grant_type": "client_credentials",
            },
        )
        assert token.status_code == 200, token.text
        return Charger(http, data["device_id"], data["device_secret"], token.json()["access_token"])

    return make
