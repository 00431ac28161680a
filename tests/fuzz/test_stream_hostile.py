"""The telemetry stream (WebSocket, not in either OpenAPI document) against the live
server: hostile values in the handshake's query and Authorization header, and junk
frames from the client once connected.

A refusal accepts the socket and closes it with one of the documented 44xx codes and a
reason; never an abnormal close (1006, 1011) or an exception in the application. Frames
a client sends are ignored and the stream carries on.
"""

import json
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.fuzz.hostile import HOSTILE_HEADER_VALUES, nested, query_values
from tests.fuzz.stats import STATS
from tests.fuzz.world import ago

pytestmark = pytest.mark.django_db

SUITE = "stream"
LABEL = "WS /v1/operator/stream"
DOCUMENTED_CLOSES = {4400, 4401, 4403, 4404, 4409}
FRESH_TELEMETRY = {
    "connector_id": 2,
    "state": "idle",
    "voltage": 400.0,
    "current": 0.0,
    "power": 0.0,
    "energy_delivered": 0.0,
}
JUNK_FRAMES = ["{", "not json", "NaN", nested(100_000, "0"), b"\x00\xff\xfe", "x" * 1_000_000]


def outcome(url: str, headers: dict[str, str | bytes]) -> tuple[str, int | None, str]:
    """("frame", None, text) for a stream that sends a frame, ("closed", code, reason)."""
    try:
        with connect(url, additional_headers=headers, open_timeout=10, max_size=None) as ws:
            try:
                return "frame", None, ws.recv(timeout=10)
            except ConnectionClosed as closed:
                if closed.rcvd is None:
                    return "closed", 1006, "abnormal"
                return "closed", closed.rcvd.code, closed.rcvd.reason
    except InvalidStatus as refused:
        return "http", refused.response.status_code, ""


@pytest.fixture(scope="module")
def stream_url(tellus_server) -> str:
    STATS.declare(SUITE, 1)
    return tellus_server.url.replace("http://", "ws://") + "/v1/operator/stream"


def _bearer(world) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.operator_token}"}


@pytest.mark.parametrize("parameter", ["devices", "token", "x_unknown"])
def test_hostile_query_values_in_the_handshake(parameter, stream_url, world, tellus_server):
    device = world.chargers["main"].device_id
    offset = tellus_server.log_size()
    failures = []
    for hostile_class, value in query_values():
        query = {"devices": device, parameter: value}
        headers = {} if parameter == "token" else _bearer(world)
        url = stream_url + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
        kind, code, reason = outcome(url, headers)
        STATS.record(SUITE, LABEL, 101)
        valid = kind == "frame" or (kind == "closed" and code in DOCUMENTED_CLOSES and reason)
        if hostile_class == "nul string" and (kind, code) != ("closed", 4400):
            valid = False
        if not valid:
            failures.append(f"{parameter}={value[:60]!r} ({hostile_class}): {kind} {code} {reason}")
    assert not failures, "\n".join(failures)
    assert "Exception in ASGI application" not in tellus_server.log_since(offset)


def test_hostile_authorization_headers(stream_url, world, tellus_server):
    url = f"{stream_url}?devices={world.chargers['main'].device_id}"
    offset = tellus_server.log_size()
    failures = []
    for _, value in HOSTILE_HEADER_VALUES:
        if any(byte < 0x20 and byte != 0x09 for byte in value) or b"\x7f" in value:
            continue  # not a valid header: the HTTP server refuses the upgrade itself
        kind, code, reason = outcome(url, {"Authorization": value.decode("latin-1")})
        STATS.record(SUITE, LABEL, 101)
        if (kind, code) != ("closed", 4401) or not reason:
            failures.append(f"Authorization {value[:60]!r}: {kind} {code} {reason}")
    assert not failures, "\n".join(failures)
    assert "Exception in ASGI application" not in tellus_server.log_since(offset)


@pytest.mark.parametrize("frame", JUNK_FRAMES, ids=lambda f: repr(f)[:16])
def test_junk_from_the_client_is_ignored(frame, stream_url, world, tellus_server):
    main = world.chargers["main"]
    url = f"{stream_url}?devices={main.device_id}"
    offset = tellus_server.log_size()
    with connect(url, additional_headers=_bearer(world), open_timeout=10, max_size=None) as ws:
        ws.recv(timeout=10)
        ws.send(frame)
        # Still streaming: fresh telemetry from the charger gives a prompt frame.
        sent = httpx.post(
            f"{tellus_server.url}/v1/device/telemetry",
            json={**FRESH_TELEMETRY, "timestamp": ago(0)},
            headers={"Authorization": f"Bearer {main.token}"},
        )
        assert sent.status_code == 200, sent.text
        try:
            frame_after = json.loads(ws.recv(timeout=10))
        except ConnectionClosed as closed:
            pytest.fail(f"the stream closed after a client frame: {closed}")
        assert frame_after["device_id"] == main.device_id
        STATS.record(SUITE, LABEL, 101)
    assert "Exception in ASGI application" not in tellus_server.log_since(offset)
