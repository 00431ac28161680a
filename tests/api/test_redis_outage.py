"""Redis going away under a live server, and coming back.

The server runs on the test database with a Redis of its own (a redis-server on a spare
port, started here), so the test can kill it and start it again. While it is down:
chargers keep reporting and polling, operators keep reading and writing (signed writes
included), a command queued by another process reaches a waiting long poll through the
database, and /healthz says "degraded". Once it is back everything uses it again by
itself: health, rate limits, command wake-ups across processes and the live stream.
"""

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fleet.actors import Actor
from fleet.models import Connector
from fleet.pools import pubsub_namespace
from fleet.services import provisioning
from fleet.services.commands import queue_command
from fleet.services.signing import signature_for
from tests.live_server import LiveServer, free_port, serving

pytestmark = pytest.mark.django_db(transaction=True)

PLATFORM = Actor.platform()
TEST_DB = settings.REDIS_URL.rsplit("/", 1)[1]  # the server's tests.settings picks the same


class RedisServer:
    """A throwaway redis-server on one port, which can be killed and started again."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.client().ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, db=int(TEST_DB), socket_timeout=2)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def fleet(register_device):
    client, secret = provisioning.create_operator_client(
        PLATFORM, "Acme", ["read", "write"], require_signed_writes=True
    )
    site = provisioning.create_site(PLATFORM, client.client_id, "Depot")
    registration = register_device()
    device = provisioning.assign_device(PLATFORM, registration["device_id"], site.site_id)
    Connector.objects.create(device=device, connector_id=1, state="idle")
    return client, secret, device, registration


@pytest.fixture
def server(own_redis, fleet, tmp_path) -> Iterator[LiveServer]:
    own_env = {
        "REDIS_URL": f"redis://127.0.0.1:{own_redis.port}/0",
        "TELLUS_LONG_POLL_FALLBACK_SECONDS": "0.5",
    }
    with serving(tmp_path / "server.log", extra_env=own_env) as live:
        yield live


class Session:
    """The live server as an operator client and a charger see it."""

    def __init__(self, server: LiveServer, fleet):
        self.client, self.secret, self.device, registration = fleet
        self.http = httpx.Client(base_url=server.url, timeout=30)
        self.operator = self.token(
            "/v1/operator/oauth/token", client_id=self.client.client_id, client_secret=self.secret
        )
        self.charger = self.token(
            "/v1/device/token",
            device_id=registration["device_id"],
            device_secret=registration["device_secret"],
        )

    def token(self, path: str, **credentials: str) -> str:
        response = self.http.post(path, json={**credentials, "grant_type": "client_credentials"})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def as_operator(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator}"}

    def as_charger(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.charger}"}

    def charger_reports(self, power: float = 3.7) -> list[httpx.Response]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        heartbeat = {"timestamp": stamp, "status": "online", "fault_code": 0}
        telemetry = {
            "timestamp": stamp,
            "connector_id": 1,
            "state": "charging",
            "voltage": 230.0,
            "current": 16.0,
            "power": power,
            "energy_delivered": 1.2,
        }
        return [
            self.http.post("/v1/device/heartbeat", json=heartbeat, headers=self.as_charger()),
            self.http.post("/v1/device/telemetry", json=telemetry, headers=self.as_charger()),
        ]

    def operator_reads(self) -> list[httpx.Response]:
        return [
            self.http.get("/v1/operator/devices", headers=self.as_operator()),
            self.http.get(
                f"/v1/operator/devices/{self.device.device_id}", headers=self.as_operator()
            ),
            self.http.get("/v1/operator/sites", headers=self.as_operator()),
        ]

    def signed_write(self, action: str) -> httpx.Response:
        path = f"/v1/operator/devices/{self.device.device_id}/connectors/1/{action}"
        # A signature is accepted once: a fresh timestamp for every write.
        self.stamp = max(int(time.time()), getattr(self, "stamp", 0) + 1)
        body, stamp = b"{}", str(self.stamp)
        headers = {
            **self.as_operator(),
            "Content-Type": "application/json",
            "X-Timestamp": stamp,
            "X-Signature": signature_for(self.secret, "POST", path, stamp, body),
        }
        return self.http.post(path, content=body, headers=headers)

    def poll(self, wait: int) -> httpx.Response:
        return self.http.get(
            "/v1/device/commands",
            params={"connector_id": 1, "wait": wait},
            headers=self.as_charger(),
        )

    def stream(self) -> ClientConnection:
        url = self.http.base_url.copy_with(scheme="ws", path="/v1/operator/stream")
        stream = connect(
            f"{url}?devices={self.device.device_id}", additional_headers=self.as_operator()
        )
        return stream

    def health(self) -> dict:
        return self.http.get("/healthz").json()


def statuses(responses) -> list[int]:
    return [response.status_code for response in responses]


def command_in(response: httpx.Response) -> str | None:
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return data["command"] if data else None


def queue_from_another_process(device, command: str = "stop_charging") -> None:
    """What a worker or a second web process does: the command row is committed, and the
    wake-up goes out on *their* Redis, which this live server never hears."""
    queue_command(PLATFORM, device, command, connector_id=1)


def closed_with(stream: ClientConnection) -> tuple[int, str]:
    try:
        stream.recv(timeout=10)
    except ConnectionClosed as closed:
        return closed.rcvd.code, closed.rcvd.reason
    return 0, "stream stayed open"


def frame_with_power(stream: ClientConnection, power: float) -> dict | None:
    """The first frame showing `power` on connector 1, within a few seconds."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = json.loads(stream.recv(timeout=deadline - time.monotonic()))
        if frame["connectors"][0].get("power") == power:
            return frame
    return None


def poll_while(session: Session, wait: int, action) -> httpx.Response:
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(session.poll, wait)
        time.sleep(1.0)  # the poll is parked on the server
        action()
        return waiting.result(timeout=wait + 10)


def test_without_redis_chargers_and_operators_carry_on_and_it_recovers_by_itself(
    server, own_redis, fleet
):
    session = Session(server, fleet)
    assert session.health()["status"] == "ok"
    assert statuses(session.charger_reports()) == [200, 200]
    assert statuses(session.operator_reads()) == [200, 200, 200]
    started = session.signed_write("start")
    assert started.status_code == 200, started.text
    # The charger takes the start; the queue is empty for what follows.
    assert command_in(session.poll(wait=1)) == "start_charging"
    with session.stream() as watching:  # stays open through the outage
        watching.recv(timeout=5)  # its snapshot

        own_redis.kill()

        health = session.health()
        assert (health["status"], health["redis"]["status"]) == ("degraded", "down")
        assert health["database"]["status"] == "ok"
        for _ in range(3):
            assert statuses(session.charger_reports()) == [200, 200], server.log_tail()
            assert statuses(session.operator_reads()) == [200, 200, 200], server.log_tail()
        assert session.token(
            "/v1/operator/oauth/token",
            client_id=session.client.client_id,
            client_secret=session.secret,
        )
        # Signed writes need no Redis: their replay cache is in the database.
        stopped = session.signed_write("stop")
        assert stopped.status_code == 200, stopped.text
        assert session.signed_write("stop").status_code == 200
        assert command_in(session.poll(wait=1)) == "stop_charging"
        assert command_in(session.poll(wait=1)) == "stop_charging"

        # No wake-up can reach the server: its long poll finds the command in the database.
        polled = poll_while(session, 20, lambda: queue_from_another_process(session.device))
        assert command_in(polled) == "stop_charging"

        # A new stream needs Redis for its frames: "try again later", not a failed handshake.
        with session.stream() as refused:
            assert closed_with(refused) == (1013, "live updates unavailable; retry with backoff")

        log = server.log_tail()
        assert "Exception in ASGI application" not in log, log
        assert "Unhandled error" not in log, log
        assert log.count("tellus.outage") <= 6, log  # each fallback says so once, not per request

        own_redis.start()

        deadline = time.monotonic() + 10
        while session.health()["status"] != "ok" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert session.health()["redis"] == {"status": "ok"}
        assert statuses(session.charger_reports()) == [200, 200]
        assert own_redis.client().keys("LIMITS*"), "rate limits are counted in Redis again"

        # The command wake-up listener subscribes again: a wake-up published on the server's
        # Redis by another process reaches a parked poll.
        def queue_and_announce() -> None:
            queue_from_another_process(session.device, "start_charging")
            announcer = redis.Redis(port=own_redis.port)
            channel = pubsub_namespace(settings.REDIS_URL) + "command-queued:"
            announcer.publish(channel + session.device.device_id, b"1")

        polled = poll_while(session, 20, queue_and_announce)
        assert command_in(polled) == "start_charging"
        assert redis.Redis(port=own_redis.port).pubsub_numpat() >= 1

        # Live updates flow again: to the stream that stayed open through the outage, and
        # between connections (a newer stream for the same devices replaces it, 4409).
        assert statuses(session.charger_reports(power=9.9)) == [200, 200]
        assert frame_with_power(watching, 9.9)
        with session.stream() as fresh:
            assert json.loads(fresh.recv(timeout=5))["connectors"][0]["power"] == 9.9
            assert closed_with(watching)[0] == 4409
