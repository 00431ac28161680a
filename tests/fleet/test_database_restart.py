"""A database restart costs no requests once the database is back.

A live server warms its connection pools, then PostgreSQL terminates every backend the
server holds (what a restart or a failover does to an idle pool). The requests that follow
must all succeed: each pool checks a connection before handing it out and replaces dead
ones, instead of letting each dead connection fail one request whenever it is next used.
The server has two pools: the ORM's (operator API, console, the charger routes Django
serves such as events, WebSocket streams) and the charger hot path's own (heartbeat,
telemetry, the long poll).
"""

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection
from websockets.sync.client import connect

from fleet.actors import Actor
from fleet.services import provisioning
from tests.live_server import APPLICATION_NAME, LiveServer, eventually, serving

pytestmark = pytest.mark.django_db(transaction=True)
# Requests at once while warming up: enough for each pool to open many connections.
BUSY = 8


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with serving(tmp_path / "server.log") as live:
        yield live


def terminate_server_backends() -> int:
    """What a database restart does to the server's pools: every session they hold is
    killed (this process's own sessions are left alone: they are not under test). Returns
    once the killed sessions are gone, as they are once a restarted database is back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [APPLICATION_NAME],
        )
        pids = [pid for (pid,) in cursor.fetchall()]
        cursor.execute(
            "SELECT array_agg(pid) FROM unnest(%s::int[]) AS pid WHERE pg_terminate_backend(pid)",
            [pids],
        )
        killed = cursor.fetchone()[0] or []

    def all_gone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [killed])
            return cursor.fetchone()[0] == 0

    eventually(all_gone, timeout=30, what="the terminated sessions to end")
    return len(killed)


def test_requests_after_the_database_killed_every_pooled_connection_all_succeed(server):
    client, secret = provisioning.create_operator_client(Actor.platform(), "Acme", ["read"])
    body = {
        "client_id": client.client_id,
        "client_secret": secret,
        "grant_type": "client_credentials",
    }
    with httpx.Client(base_url=server.url, timeout=10) as http:
        token = http.post("/v1/operator/oauth/token", json=body).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def round_of_requests() -> list[int]:
            # Concurrency would spread over several pooled connections; sequential
            # requests through many paths touch the pool repeatedly.
            return [
                http.get("/healthz").status_code,
                http.get("/v1/operator/devices", headers=headers).status_code,
                http.get("/v1/operator/sites", headers=headers).status_code,
            ]

        for _ in range(5):
            assert round_of_requests() == [200, 200, 200]

        assert terminate_server_backends() >= 1

        statuses = [status for _ in range(10) for status in round_of_requests()]
    assert statuses == [200] * 30, server.log_tail()


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def test_charger_requests_after_the_database_killed_every_pooled_connection_all_succeed(server):
    """The hot path's pool (heartbeat, telemetry, the long poll) as well as the ORM's
    (events, the operator stream). Before, the hot path handed out each dead connection
    once, failing that charger request with 500/9001."""
    client, secret = provisioning.create_operator_client(Actor.platform(), "Acme", ["read"])
    site = provisioning.create_site(Actor.platform(), client.client_id, "Depot")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        registered = http.post(
            "/v1/device/register",
            json={
                "sn": "SN-RESTART-1",
                "model": "TP-DC180",
                "manufacturer": "Tellus Power",
                "firmware_version": "3.1.0",
            },
        ).json()["data"]
        provisioning.assign_device(Actor.platform(), registered["device_id"], site.site_id)
        charger_token = http.post(
            "/v1/device/token", json={**registered, "grant_type": "client_credentials"}
        ).json()["access_token"]
        operator_token = http.post(
            "/v1/operator/oauth/token",
            json={
                "client_id": client.client_id,
                "client_secret": secret,
                "grant_type": "client_credentials",
            },
        ).json()["access_token"]
        charger = {"Authorization": f"Bearer {charger_token}"}
        stream_url = (
            server.url.replace("http://", "ws://")
            + f"/v1/operator/stream?devices={registered['device_id']}"
        )

        def stream_snapshot() -> str:
            headers = {"Authorization": f"Bearer {operator_token}"}
            with connect(stream_url, additional_headers=headers, open_timeout=10) as stream:
                return json.loads(stream.recv(timeout=10))["device_id"]

        def round_of_requests() -> list[tuple[str, int]]:
            # Sequential: each request takes the pool's next idle connection, so a few
            # rounds use every connection the pools hold.
            beat = {"timestamp": now_iso(), "status": "online", "fault_code": 0}
            sample = {
                "timestamp": now_iso(),
                "connector_id": 1,
                "state": "charging",
                "voltage": 230.0,
                "current": 16.0,
                "power": 3.7,
                "energy_delivered": 1.2,
            }
            event = {
                "timestamp": now_iso(),
                "event_type": "status_change",
                "connector_id": 1,
                "data": {},
            }
            return [
                ("heartbeat", http.post("/v1/device/heartbeat", json=beat, headers=charger)),
                ("telemetry", http.post("/v1/device/telemetry", json=sample, headers=charger)),
                ("events", http.post("/v1/device/events", json=event, headers=charger)),
                (
                    "commands",
                    http.get(
                        "/v1/device/commands",
                        params={"connector_id": 1, "wait": 1},
                        headers=charger,
                    ),
                ),
            ]

        def outcomes() -> list[tuple[str, int]]:
            answered = [(name, response.status_code) for name, response in round_of_requests()]
            return [*answered, ("stream", stream_snapshot() == registered["device_id"])]

        expected = [
            ("heartbeat", 200),
            ("telemetry", 200),
            ("events", 200),
            ("commands", 200),
            ("stream", True),
        ]
        for _ in range(3):
            assert outcomes() == expected, server.log_tail()
        # A busy server: both pools hold many connections, all of which the restart kills.
        with ThreadPoolExecutor(BUSY) as pool:
            busy = list(pool.map(lambda _: outcomes(), range(2 * BUSY)))
        assert busy == [expected] * (2 * BUSY), server.log_tail()

        assert terminate_server_backends() >= BUSY

        after = [outcome for _ in range(6) for outcome in outcomes()]
    assert after == expected * 6, server.log_tail()
