"""The HTTP edge as the wire carries it, over raw sockets (a client library would
normalise the request), on uvicorn (production, `make run`) and daphne (`runserver`):

- a chunked body (no Content-Length) that is not declared JSON is refused like one with
  a Content-Length, on an operator write, the charger's writes (a Ninja route and the
  fast path) and a legacy write, and nothing is queued or stored;
- a request signature covers the path and query exactly as sent, percent-encoding
  untouched, on REST and on the stream handshake: signed over the target as sent it is
  let in, signed over the decoded target it is 401/2001 and changes nothing.
"""

import base64
import http.client
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from fleet.actors import Actor
from fleet.models import ApiClient, Command, Connector, Device, DeviceEvent, TelemetrySample
from fleet.services import provisioning
from fleet.services.signing import signature_for
from tests.conftest import now_iso
from tests.live_server import LiveServer, database_url

pytestmark = pytest.mark.django_db(transaction=True)

PLATFORM = Actor.platform()


@pytest.fixture(scope="module", params=["uvicorn", "daphne"])
def server(request, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    log = tmp_path_factory.mktemp("wire") / f"{request.param}.log"
    live = LiveServer(url, settings.SECRET_KEY, log, server=request.param)
    live.start()
    try:
        yield live
    finally:
        live.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
            connection.close()


@dataclass
class Fleet:
    client: ApiClient
    secret: str
    device: Device
    operator_token: str
    charger_token: str


@pytest.fixture
def fleet(register_device, device_token, operator_token) -> Fleet:
    client, secret = provisioning.create_operator_client(PLATFORM, "Acme", ["read", "write"])
    site = provisioning.create_site(PLATFORM, client.client_id, "Depot")
    registration = register_device()
    device = provisioning.assign_device(PLATFORM, registration["device_id"], site.site_id)
    Connector.objects.create(device=device, connector_id=1, state="idle")
    return Fleet(client, secret, device, operator_token(client, secret), device_token(registration))


def exchange(port: int, request: bytes) -> tuple[int, Any]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        content = response.read()
    return response.status, json.loads(content) if content else None


def request_bytes(
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes = b"",
    *,
    chunked: bool = False,
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if chunked:  # in two chunks, with no Content-Length
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        parts = [part for part in (body[:half], body[half:]) if part]
        body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- Chunked bodies ----------------------------------------------------------------------------


@dataclass
class Write:
    path: Callable[[Fleet], str]
    body: Callable[[Fleet], dict[str, Any]]
    token: Callable[[Fleet], str]
    stored: Callable[[Fleet], int]
    legacy: bool = False


WRITES = {
    "operator stop": Write(
        lambda f: f"/v1/operator/devices/{f.device.device_id}/connectors/1/stop",
        lambda f: {"reason": "user_request"},
        lambda f: f.operator_token,
        lambda f: Command.objects.filter(device=f.device).count(),
    ),
    "charger event (Ninja)": Write(
        lambda f: "/v1/device/events",
        lambda f: {
            "timestamp": now_iso(),
            "event_type": "plug_in",
            "connector_id": 1,
            "data": {"note": "wire"},
        },
        lambda f: f.charger_token,
        lambda f: DeviceEvent.objects.filter(device=f.device).count(),
    ),
    "charger telemetry (fast path)": Write(
        lambda f: "/v1/device/telemetry",
        lambda f: {
            "timestamp": now_iso(),
            "connector_id": 1,
            "state": "charging",
            "voltage": 230.0,
            "current": 16.0,
            "power": 3.7,
            "energy_delivered": 1.2,
        },
        lambda f: f.charger_token,
        lambda f: TelemetrySample.objects.filter(device=f.device).count(),
    ),
    "legacy stop": Write(
        lambda f: "/v1/cp/stop_charging",
        lambda f: {"ChargePointId": f.device.device_id, "ConnectorId": 1},
        lambda f: f.operator_token,
        lambda f: Command.objects.filter(device=f.device).count(),
        legacy=True,
    ),
}


def send_write(server: LiveServer, fleet: Fleet, write: Write, content_type: str | None):
    headers = {"Authorization": f"Bearer {write.token(fleet)}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = json.dumps(write.body(fleet)).encode()
    return exchange(
        server.port, request_bytes("POST", write.path(fleet), headers, body, chunked=True)
    )


@pytest.mark.parametrize("content_type", ["text/plain", None])
@pytest.mark.parametrize("write", list(WRITES))
def test_a_chunked_body_not_declared_json_is_refused_and_nothing_is_queued(
    server, fleet, write, content_type
):
    case = WRITES[write]
    status, answer = send_write(server, fleet, case, content_type)
    assert status == 400, answer
    details = {"field": "Content-Type", "value": content_type}
    if case.legacy:
        assert (answer["Status"], answer["Code"], answer["Details"]) == ("Reject", 1001, details)
    else:
        assert (answer["code"], answer["details"]) == (1001, details)
        assert answer["message"] == "Unsupported content type; send application/json"
    assert case.stored(fleet) == 0


@pytest.mark.parametrize("write", list(WRITES))
def test_a_chunked_json_body_is_served(server, fleet, write):
    case = WRITES[write]
    status, answer = send_write(server, fleet, case, "application/json")
    assert status == 200, answer
    assert case.stored(fleet) == 1


# --- Signatures over the target as sent ---------------------------------------------------------


def signed_headers(fleet: Fleet, method: str, signed_target: str, body: bytes = b""):
    stamp = str(int(time.time()))
    return {
        "Authorization": f"Bearer {fleet.operator_token}",
        "X-Timestamp": stamp,
        "X-Signature": signature_for(fleet.secret, method, signed_target, stamp, body),
    }


def encoded(device_id: str) -> str:
    """The device id with its first character percent-encoded in lower case (`%64vc_…`):
    the same resource, a different target on the wire."""
    return f"%{ord(device_id[0]):02x}{device_id[1:]}"


def test_a_write_signed_over_the_path_as_sent_is_accepted_and_over_the_decoded_path_refused(
    server, fleet
):
    device_id = fleet.device.device_id
    sent = f"/v1/operator/devices/{encoded(device_id)}/connectors/%31/stop"
    decoded = f"/v1/operator/devices/{device_id}/connectors/1/stop"
    body = b'{"reason": "user_request"}'
    json_type = {"Content-Type": "application/json"}

    headers = {**signed_headers(fleet, "POST", decoded, body), **json_type}
    status, answer = exchange(server.port, request_bytes("POST", sent, headers, body))
    assert (status, answer["code"]) == (401, 2001), answer
    assert answer["message"] == "Invalid request signature"
    assert not Command.objects.exists()

    headers = {**signed_headers(fleet, "POST", sent, body), **json_type}
    status, answer = exchange(server.port, request_bytes("POST", sent, headers, body))
    assert (status, answer["code"]) == (200, 0), answer
    assert Command.objects.get().command == "stop_charging"


def test_a_read_signed_over_the_query_as_sent_is_accepted_and_over_the_decoded_query_refused(
    server, fleet
):
    # %2F, %20, a UTF-8 character in lower-case hex, and a `|` Django would re-encode.
    sent = "/v1/operator/audit-logs?actor=%2Fops%20team%c3%a9|night"
    decoded = "/v1/operator/audit-logs?actor=/ops teamé|night"
    for signed, expected in ((decoded, 401), (sent, 200)):
        headers = signed_headers(fleet, "GET", signed)
        status, answer = exchange(server.port, request_bytes("GET", sent, headers))
        assert status == expected, (signed, answer)


def stream_handshake(server: LiveServer, target: str, headers: dict[str, str]) -> int | str:
    """Open the stream over a raw socket; the close code it answers with, or "frame"
    when it sends a telemetry frame (let in)."""
    key = base64.b64encode(os.urandom(16)).decode()
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": key,
        "Sec-WebSocket-Version": "13",
        **headers,
    }
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in upgrade.items()]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            assert chunk, received
            received += chunk
        head, _, rest = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        while len(rest) < 4:
            rest += sock.recv(4096)
    opcode, length = rest[0] & 0x0F, rest[1] & 0x7F
    if opcode == 0x8:
        payload = rest[2 : 2 + length] if length < 126 else rest[4:6]
        return int.from_bytes(payload[:2], "big")
    return "frame" if opcode == 0x1 else f"opcode {opcode}"


def test_the_stream_handshake_is_signed_over_the_target_as_sent(server, fleet):
    devices = f"devices={fleet.device.device_id}"
    sent = f"/v1/operator/%73tream?{devices}&note=a%2Fb%20%c3%a9"
    decoded = f"/v1/operator/stream?{devices}&note=a/b é"
    assert stream_handshake(server, sent, signed_headers(fleet, "GET", decoded)) == 4401
    assert stream_handshake(server, sent, signed_headers(fleet, "GET", sent)) == "frame"
