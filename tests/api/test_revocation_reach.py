"""Revocation reaches every process and every open stream: two uvicorn processes on the
test database and Redis, changes made from a third (this test process, as the admin or a
management command would).

- a rotated secret is refused by a process that had the token's version in memory,
  within a second;
- an open stream on either process closes with 4401 when its client's credentials
  change, and with 4404 when one of its devices moves to another operator.
"""

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections

from fleet.actors import Actor
from fleet.models import Connector
from fleet.services import provisioning
from tests.live_server import LiveServer, database_url

pytestmark = pytest.mark.django_db(transaction=True)

PLATFORM = Actor.platform()


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[list[LiveServer]]:
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    logs = tmp_path_factory.mktemp("revocation")
    started = [LiveServer(url, settings.SECRET_KEY, logs / f"{name}.log") for name in "ab"]
    try:
        for server in started:
            server.start()
        yield started
    finally:
        for server in started:
            server.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
            connection.close()


@pytest.fixture(autouse=True)
async def _close_bridge_connections():
    yield
    # The ORM's async bridge keeps a connection on its worker thread; close it so the
    # test database can be dropped.
    await sync_to_async(connections.close_all)()


@pytest.fixture
def fleet(register_device):
    client, secret = provisioning.create_operator_client(PLATFORM, "Acme", ["read", "write"])
    site = provisioning.create_site(PLATFORM, client.client_id, "Depot")
    devices = []
    for _ in range(2):
        device_id = register_device()["device_id"]
        devices.append(provisioning.assign_device(PLATFORM, device_id, site.site_id))
        Connector.objects.create(device=devices[-1], connector_id=1, state="idle")
    return client, secret, devices[0], devices[1]


def token_from(server: LiveServer, client, secret: str) -> str:
    body = {
        "client_id": client.client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
    }
    return httpx.post(f"{server.url}/v1/operator/oauth/token", json=body).json()["access_token"]


def sites(server: LiveServer, token: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/operator/sites", headers={"Authorization": f"Bearer {token}"}
    )


def seconds_until_refused(server: LiveServer, token: str, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if sites(server, token).status_code == 401:
            return time.monotonic() - started
        time.sleep(0.02)
    return float("inf")


def test_a_rotation_is_refused_by_the_other_process_within_a_second(servers, fleet):
    a, b = servers
    client, secret, *_ = fleet
    token = token_from(a, client, secret)
    for server in servers:  # both now hold the token's version in memory
        assert sites(server, token).status_code == 200

    provisioning.rotate_client_secret(PLATFORM, client.client_id)

    assert seconds_until_refused(b, token, limit=1.0) < 1.0, b.log_tail()
    assert sites(a, token).status_code == 401


async def open_stream(server: LiveServer, token: str, *device_ids: str):
    query = ",".join(device_ids)
    url = server.url.replace("http://", "ws://") + f"/v1/operator/stream?devices={query}"
    stream = await websockets.connect(url, additional_headers={"Authorization": f"Bearer {token}"})
    first = json.loads(await asyncio.wait_for(stream.recv(), 5))
    assert first["device_id"] in device_ids
    return stream


async def close_code(stream, limit: float = 2.0) -> tuple[int | None, str]:
    try:
        async with asyncio.timeout(limit):
            while True:
                await stream.recv()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""
    except TimeoutError:
        await stream.close()
        return None, "still open"


@pytest.mark.parametrize(
    "revoke",
    [
        lambda client: provisioning.rotate_client_secret(PLATFORM, client.client_id),
        lambda client: client.__class__.objects.get(pk=client.pk).delete(),
        lambda client: setattr(client, "scopes", ["write"]) or client.save(),
        lambda client: setattr(client, "is_active", False) or client.save(),
    ],
    ids=["rotation", "deletion", "scope-change", "deactivation"],
)
async def test_open_streams_on_both_processes_close_on_revocation(servers, fleet, revoke):
    client, secret, device, other = fleet
    token = await sync_to_async(token_from)(servers[0], client, secret)
    # Different device sets: one client's second stream for the same set would replace
    # the first (4409).
    streams = [
        await open_stream(servers[0], token, device.device_id),
        await open_stream(servers[1], token, device.device_id, other.device_id),
    ]

    await sync_to_async(revoke)(client)

    for stream in streams:
        assert await close_code(stream) == (4401, "token revoked")


async def test_a_stream_drops_a_device_that_moves_to_another_operator(servers, fleet):
    client, secret, device, _ = fleet
    rival, _ = await sync_to_async(provisioning.create_operator_client)(PLATFORM, "Rival", ["read"])
    rival_site = await sync_to_async(provisioning.create_site)(PLATFORM, rival.client_id, "Yard")
    token = await sync_to_async(token_from)(servers[1], client, secret)
    stream = await open_stream(servers[1], token, device.device_id)

    await sync_to_async(provisioning.assign_device)(PLATFORM, device.device_id, rival_site.site_id)

    assert await close_code(stream) == (4404, f"device {device.device_id} left your fleet")


async def test_a_move_within_the_operator_keeps_the_stream(servers, fleet):
    client, secret, device, _ = fleet
    other_site = await sync_to_async(provisioning.create_site)(
        PLATFORM, client.client_id, "Second depot"
    )
    token = await sync_to_async(token_from)(servers[0], client, secret)
    stream = await open_stream(servers[0], token, device.device_id)

    await sync_to_async(provisioning.assign_device)(PLATFORM, device.device_id, other_site.site_id)

    assert await close_code(stream, limit=1.5) == (None, "still open")
