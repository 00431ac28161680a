"""Two server processes on one PostgreSQL and one Redis behave as one platform.

- a command queued through A wakes a long poll held by B (median of five under 100 ms);
- a stream opened on A receives telemetry posted to B;
- a rate limit counts requests made to both;
- a secret rotated through A's admin is refused by B.
"""

import json
import re
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from django.contrib.auth import get_user_model
from websockets.sync.client import connect

from fleet.actors import Actor
from fleet.models import Connector
from fleet.services import provisioning
from tests.live_server import LiveServer, serving

pytestmark = pytest.mark.django_db(transaction=True)

QUERY_LIMIT = 6  # per minute, for the operator query class on both servers


@pytest.fixture
def servers(tmp_path) -> Iterator[tuple[LiveServer, LiveServer]]:
    limits = {"extra_env": {"TELLUS_RATE_OPERATOR_QUERY": f"{QUERY_LIMIT}/minute"}}
    with serving(tmp_path / "a.log", **limits) as a, serving(tmp_path / "b.log", **limits) as b:
        yield a, b


@pytest.fixture
def fleet(register_device, device_token):
    client, secret = provisioning.create_operator_client(
        Actor.platform(), "Scale Out", ["read", "write"]
    )
    site = provisioning.create_site(Actor.platform(), client.client_id, "Depot")
    registration = register_device()
    device = provisioning.assign_device(Actor.platform(), registration["device_id"], site.site_id)
    Connector.objects.create(device=device, connector_id=1, state="idle")
    return client, secret, device, device_token(registration)


def operator_token(server: LiveServer, client, secret: str) -> str:
    grant = {"client_id": client.client_id, "client_secret": secret}
    response = httpx.post(
        f"{server.url}/v1/operator/oauth/token",
        json={**grant, "grant_type": "client_credentials"},
    )
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wake_up_latency(a: LiveServer, b: LiveServer, device, charger: str, operator: str) -> float:
    """Seconds from A answering the start to B's parked long poll answering with it."""
    answered: dict[str, float] = {}

    def poll() -> None:
        httpx.get(
            f"{b.url}/v1/device/commands",
            params={"connector_id": 1, "wait": 20},
            headers=bearer(charger),
            timeout=30,
        )
        answered["at"] = time.perf_counter()

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.5)  # parked on B
    path = f"/v1/operator/devices/{device.device_id}/connectors/1/stop"
    queued = httpx.post(f"{a.url}{path}", json={}, headers=bearer(operator))
    sent = time.perf_counter()
    assert queued.status_code == 200, queued.text
    waiting.join(timeout=30)
    return answered["at"] - sent


def test_a_command_queued_on_one_process_wakes_a_poll_held_by_the_other(servers, fleet):
    a, b = servers
    client, secret, device, charger = fleet
    operator = operator_token(a, client, secret)
    latencies = [wake_up_latency(a, b, device, charger, operator) for _ in range(5)]
    # Without the cross-process wake-up the poll would wait its 20 s.
    assert statistics.median(latencies) < 0.1, latencies


def test_a_stream_on_one_process_sees_telemetry_posted_to_the_other(servers, fleet):
    a, b = servers
    client, secret, device, charger = fleet
    operator = operator_token(a, client, secret)
    url = a.url.replace("http://", "ws://") + f"/v1/operator/stream?devices={device.device_id}"
    with connect(url, additional_headers=bearer(operator)) as stream:
        stream.recv(timeout=5)  # the snapshot
        sample = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "connector_id": 1,
            "state": "charging",
            "voltage": 400.0,
            "current": 50.0,
            "power": 20.2,
            "energy_delivered": 3.5,
        }
        posted = httpx.post(f"{b.url}/v1/device/telemetry", json=sample, headers=bearer(charger))
        assert posted.status_code == 200
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            frame = json.loads(stream.recv(timeout=10))
            if frame["connectors"][0].get("power") == 20.2:
                break
        else:
            raise AssertionError("the telemetry posted to B never reached the stream on A")


def test_a_rate_limit_counts_requests_to_both_processes(servers, fleet):
    a, b = servers
    client, secret, *_ = fleet
    operator = operator_token(a, client, secret)
    statuses = [
        httpx.get(f"{server.url}/v1/operator/sites", headers=bearer(operator)).status_code
        for _ in range(QUERY_LIMIT // 2)
        for server in (a, b)
    ]
    assert statuses == [200] * QUERY_LIMIT
    assert httpx.get(f"{a.url}/v1/operator/sites", headers=bearer(operator)).status_code == 429
    assert httpx.get(f"{b.url}/v1/operator/sites", headers=bearer(operator)).status_code == 429


def test_a_secret_rotated_in_one_processes_admin_is_refused_by_the_other(servers, fleet):
    a, b = servers
    client, secret, *_ = fleet
    token = operator_token(b, client, secret)
    assert httpx.get(f"{b.url}/v1/operator/sites", headers=bearer(token)).status_code == 200
    get_user_model().objects.create_superuser("lead", password="s3cret-pass")

    with httpx.Client(base_url=a.url, follow_redirects=True) as admin:
        login = admin.get("/admin/login/")
        admin.post(
            "/admin/login/?next=/admin/",
            data={
                "username": "lead",
                "password": "s3cret-pass",
                "csrfmiddlewaretoken": csrf_of(login.text),
            },
        )
        listing = admin.get("/admin/fleet/apiclient/")
        done = admin.post(
            "/admin/fleet/apiclient/",
            data={
                "action": "rotate_secret",
                "_selected_action": client.pk,
                "csrfmiddlewaretoken": csrf_of(listing.text),
            },
        )
        assert done.status_code == 200

    deadline = time.monotonic() + 1.0
    refused = False
    while time.monotonic() < deadline and not refused:
        refused = httpx.get(f"{b.url}/v1/operator/sites", headers=bearer(token)).status_code == 401
        time.sleep(0.02)
    assert refused, "B still accepts a token whose secret A rotated"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, "no CSRF token on the admin page"
    return found.group(1)
