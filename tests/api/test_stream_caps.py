"""The stream's documented caps, through real servers (uvicorn, as production runs it).

- TELLUS_STREAM_MAX_DEVICES (500) devices fit in the handshake URL and all get frames; one
  more is refused with 4400; duplicates, unknown and other operators' ids as below the cap;
- TELLUS_STREAM_MAX_PER_CLIENT streams per client, counted across two processes: the next
  is refused with 4429, and closing one makes room;
- a killed process's streams stop counting once their leases run out.
"""

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest
from django.conf import settings
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from fleet import tokens
from fleet.ids import new_device_id
from fleet.models import Device
from tests import factories
from tests.live_server import LiveServer, eventually, serving

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live_server]

CAP = 3  # streams per client on the servers of the concurrency tests
LEASE_SECONDS = 3


def seed_devices(site, count: int) -> list[str]:
    """Chargers straight into the database, on the site; ids as the platform makes them."""
    now = timezone.now()
    devices = Device.objects.bulk_create(
        Device(
            device_id=new_device_id(),
            sn=f"SN-CAP-{site.site_id}-{n:04d}",
            model="TP-DC180",
            manufacturer="Tellus Power",
            firmware_version="3.1.0",
            secret_hash="x",
            secret_expires_at=now.replace(year=now.year + 1),
            site=site,
        )
        for n in range(count)
    )
    return [device.device_id for device in devices]


def operator(name: str = "Cap Charging"):
    client, secret = factories.operator_client(name, ["read"])
    return client, secret, factories.site(client)


def token_from(server: LiveServer, client, secret: str) -> str:
    grant = {"client_id": client.client_id, "client_secret": secret}
    response = httpx.post(
        f"{server.url}/v1/operator/oauth/token",
        json={**grant, "grant_type": "client_credentials"},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def stream_url(server: LiveServer, device_ids: list[str], token: str) -> str:
    # The token in the query, as a client that cannot set handshake headers sends it: the
    # longest URL the documented contract makes.
    base = server.url.replace("http://", "ws://")
    return f"{base}/v1/operator/stream?devices={','.join(device_ids)}&token={token}"


def open_stream(server: LiveServer, device_ids: list[str], token: str) -> ClientConnection:
    return connect(stream_url(server, device_ids, token), open_timeout=20, max_size=None)


def close_of(ws: ClientConnection) -> tuple[int, str]:
    """The close code and reason of a stream that is refused (its first message is the close)."""
    try:
        frame = ws.recv(timeout=20)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError(f"a frame instead of a refusal: {frame[:200]}")


def refusal(server: LiveServer, device_ids: list[str], token: str) -> tuple[int, str]:
    with open_stream(server, device_ids, token) as ws:
        return close_of(ws)


def first_frames(ws: ClientConnection, count: int) -> list[dict]:
    return [json.loads(ws.recv(timeout=20)) for _ in range(count)]


def test_a_stream_of_exactly_the_device_cap_gets_frames_for_every_device(tmp_path):
    cap = settings.TELLUS_STREAM_MAX_DEVICES
    client, secret, site = operator()
    device_ids = seed_devices(site, cap + 1)
    _, _, rival_site = operator("Rival Charging")
    (foreign,) = seed_devices(rival_site, 1)
    with serving(tmp_path / "server.log") as server:
        token = token_from(server, client, secret)
        subscribed = device_ids[:cap]
        assert len(stream_url(server, subscribed, token)) > 8192
        with open_stream(server, subscribed, token) as ws:
            # At once, one frame per device: all of them, the last one included.
            frames = first_frames(ws, cap)
            assert {frame["device_id"] for frame in frames} == set(subscribed)
            last = max(subscribed)
            # Fresh telemetry of the last device reaches the stream.
            sample = {
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "connector_id": 1,
                "state": "charging",
                "voltage": 400.0,
                "current": 50.0,
                "power": 21.7,
                "energy_delivered": 4.2,
            }
            charger = tokens.encode_token(tokens.DEVICE, last, 1)
            posted = httpx.post(
                f"{server.url}/v1/device/telemetry",
                json=sample,
                headers={"Authorization": f"Bearer {charger}"},
            )
            assert posted.status_code == 200, posted.text
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                frame = json.loads(ws.recv(timeout=20))
                if frame["device_id"] == last and frame["connectors"]:
                    assert frame["connectors"][0]["power"] == 21.7
                    break
            else:
                raise AssertionError("no frame with the last device's telemetry")

        # One more is refused with the documented code, naming the cap.
        code, reason = refusal(server, device_ids, token)
        assert code == 4400
        assert f"at most {cap} devices" in reason
        # As below the cap: a duplicate counts once; an unknown id or another operator's
        # device refuses the whole set.
        with open_stream(server, [*subscribed, subscribed[0]], token) as ws:
            assert len(first_frames(ws, cap)) == cap
        assert refusal(server, [*subscribed[:-1], "dvc_000000000000"], token)[0] == 4404
        assert refusal(server, [*subscribed[:-1], foreign], token)[0] == 4404


@pytest.fixture
def two_servers(tmp_path) -> Iterator[tuple[LiveServer, LiveServer]]:
    caps = {
        "TELLUS_STREAM_MAX_PER_CLIENT": str(CAP),
        "TELLUS_STREAM_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    with (
        serving(tmp_path / "a.log", extra_env=caps) as a,
        serving(tmp_path / "b.log", extra_env=caps) as b,
    ):
        yield a, b


def admitted_into(
    streams: ExitStack, server: LiveServer, device_ids: list[str], token: str
) -> Callable[[], bool]:
    """For `eventually`: True once a stream for the devices is accepted (its first frame
    arrives) and kept open in `streams`; a refusal must be the cap's (4429)."""

    def admitted() -> bool:
        ws = streams.enter_context(open_stream(server, device_ids, token))
        try:
            json.loads(ws.recv(timeout=20))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4429, closed
            return False
        return True

    return admitted


def test_streams_per_client_are_capped_across_processes(two_servers):
    a, b = two_servers
    client, secret, site = operator()
    sets = [[device_id] for device_id in seed_devices(site, CAP + 1)]
    token = token_from(a, client, secret)
    with ExitStack() as streams:
        # CAP streams of one client, on two processes.
        opened = []
        for index, devices in enumerate(sets[:CAP]):
            ws = streams.enter_context(open_stream(a if index % 2 else b, devices, token))
            first_frames(ws, 1)
            opened.append(ws)
        # The next is refused, on either process, with the documented code and the cap.
        for server in (a, b):
            code, reason = refusal(server, sets[CAP], token)
            assert code == 4429
            assert f"at most {CAP} concurrent streams" in reason
        # The same devices again replace their stream rather than count as another.
        replacement = streams.enter_context(open_stream(a, sets[0], token))
        first_frames(replacement, 1)
        assert close_of(opened[0])[0] == 4409
        # Still refused after the leases' time: open streams keep theirs.
        time.sleep(LEASE_SECONDS * 1.5)
        assert refusal(b, sets[CAP], token)[0] == 4429
        # One closed: a new one is accepted.
        opened[1].close()
        admitted = admitted_into(streams, b, sets[CAP], token)
        eventually(admitted, timeout=20, what="a stream accepted once one was closed")


def test_a_killed_processs_streams_stop_counting_when_their_leases_run_out(two_servers):
    a, b = two_servers
    client, secret, site = operator()
    sets = [[device_id] for device_id in seed_devices(site, CAP + 1)]
    token = token_from(a, client, secret)
    with ExitStack() as streams:
        for devices in sets[:CAP]:
            first_frames(streams.enter_context(open_stream(a, devices, token)), 1)
        assert refusal(b, sets[CAP], token)[0] == 4429
        # A dies without closing anything: no disconnect handler runs.
        os.killpg(a.process.pid, signal.SIGKILL)
        a.process.wait(timeout=10)
        killed_at = time.monotonic()
        admitted = admitted_into(streams, b, sets[CAP], token)
        eventually(admitted, timeout=LEASE_SECONDS * 5, what="the dead process's leases ran out")
        print(f"accepted {time.monotonic() - killed_at:.1f} s after the kill")
