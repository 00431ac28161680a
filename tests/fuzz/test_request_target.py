"""The request line and headers themselves, over a raw socket, on every kind of route.

An HTTP client library normalises what it sends (percent-encodes, refuses control
bytes); a raw socket does not. For one operation of each surface (Ninja sync and async
routes, the charger fast path, the legacy routes) the request target gets invalid
percent-encodings (overlong NUL, encoded surrogates), raw non-UTF-8 bytes, thousands of
parameters and an enormous length, and the Host header a name we do not serve. Never a
5xx; either the HTTP server refuses malformed HTTP itself (400 before the application
runs) or the answer is ours, in the operation's shape; a refused request stores nothing.
"""

import http.client
import json
import socket

import httpx
import pytest

from tests.fuzz.answers import check_shape
from tests.fuzz.stats import STATS
from tests.fuzz.templates import Template, templates
from tests.fuzz.world import World

pytestmark = pytest.mark.django_db

SUITE = "raw"
SURFACES = [
    "GET /v1/operator/sites",  # Ninja, sync
    "GET /v1/operator/devices/{device_id}",  # Ninja, path parameter
    "POST /v1/device/events",  # Ninja, async
    "POST /v1/device/heartbeat",  # fast path
    "GET /v1/device/commands",  # fast path, long poll
    "POST /v1/cp/start_charging",  # legacy, Status-shaped errors
    "PUT /v1/customer/query_station_info",  # legacy, envelope errors
]

QUERY_ATTACKS = {
    "percent-encoded invalid UTF-8": b"x=%ff%fe",
    "overlong NUL": b"x=%c0%80",
    "encoded surrogate": b"x=%ed%a0%80",
    "bad percent escape": b"x=%zz&%=1",
    "raw non-UTF-8 byte": b"x=\xff",
    "raw overlong NUL": b"x=\xc0\x80",
    "1,001 parameters": b"&".join([b"x=1"] * 1_001),
    "5,000 parameters": b"&".join([b"x=1"] * 5_000),
    "one 60 kB value": b"x=" + b"9" * 60_000,
}
PATH_ATTACKS = {
    "percent-encoded invalid UTF-8": b"%ff%fe",
    "overlong NUL": b"%c0%80",
    "encoded NUL": b"%00",
    "encoded slash and dots": b"..%2f..%2fetc%2fpasswd",
    "raw non-UTF-8 byte": b"\xff",
    "60 kB": b"d" * 60_000,
}


def exchange(port: int, request: bytes) -> httpx.Response:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        raw = http.client.HTTPResponse(sock)
        raw.begin()
        return httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())


def request_bytes(
    world: World, template: Template, target: bytes, host: bytes = b"127.0.0.1"
) -> bytes:
    headers = [b"Host: " + host, b"Connection: close"]
    for name, value in world.headers_for(template.path).items():
        headers.append(f"{name}: {value}".encode())
    body = b""
    if template.body is not None:
        body = json.dumps(template.body).encode()
        headers.append(b"Content-Type: application/json")
    headers.append(b"Content-Length: " + str(len(body)).encode())
    return (
        template.method.encode()
        + b" "
        + target
        + b" HTTP/1.1\r\n"
        + b"\r\n".join(headers)
        + b"\r\n\r\n"
        + body
    )


def target_for(template: Template, path_params: dict[str, bytes] | None = None) -> bytes:
    path = template.path.encode()
    for name, value in {**template.path_params, **(path_params or {})}.items():
        if isinstance(value, str):
            value = value.encode()
        path = path.replace(b"{" + name.encode() + b"}", value)
    return path


@pytest.fixture(scope="module")
def surfaces(world) -> dict[str, Template]:
    by_label = {template.label: template for template in templates(world)}
    return {label: by_label[label] for label in SURFACES}


def answer_ok(template, response, counts_before, counts, raw_bytes: bool) -> None:
    assert response.status_code < 500, response.text
    if raw_bytes and response.status_code == 400 and not response.text.startswith("{"):
        return  # the HTTP server refused malformed HTTP before the application ran
    check_shape(template, response)
    if response.status_code >= 400:
        assert counts() == counts_before


@pytest.mark.parametrize("attack", sorted(QUERY_ATTACKS))
@pytest.mark.parametrize("label", SURFACES)
def test_hostile_query_strings(label, attack, surfaces, world, tellus_server, counts):
    template = surfaces[label]
    query = QUERY_ATTACKS[attack]
    if template.query:
        query = httpx.QueryParams(template.query).__str__().encode() + b"&" + query
    before = counts()
    response = exchange(
        tellus_server.port, request_bytes(world, template, target_for(template) + b"?" + query)
    )
    STATS.record(SUITE, template.label, response.status_code)
    answer_ok(template, response, before, counts, raw_bytes=any(b >= 0x80 for b in query))


@pytest.mark.parametrize("attack", sorted(PATH_ATTACKS))
def test_hostile_path_parameters(attack, surfaces, world, tellus_server, counts):
    template = surfaces["GET /v1/operator/devices/{device_id}"]
    value = PATH_ATTACKS[attack]
    before = counts()
    target = target_for(template, {"device_id": value})
    response = exchange(tellus_server.port, request_bytes(world, template, target))
    STATS.record(SUITE, template.label, response.status_code)
    answer_ok(template, response, before, counts, raw_bytes=any(b >= 0x80 for b in value))
    if attack == "encoded NUL":
        assert response.status_code == 400


@pytest.mark.parametrize("label", SURFACES)
def test_a_host_we_do_not_serve(label, surfaces, world, tellus_server, counts):
    template = surfaces[label]
    before = counts()
    target = target_for(template)
    if template.query:
        target += b"?" + str(httpx.QueryParams(template.query)).encode()
    response = exchange(
        tellus_server.port, request_bytes(world, template, target, host=b"evil.example")
    )
    STATS.record(SUITE, template.label, response.status_code)
    answer_ok(template, response, before, counts, raw_bytes=False)
