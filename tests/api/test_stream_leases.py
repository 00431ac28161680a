"""The stream's leases (api/stream_leases.py), on Redis and on the embedded default's
process memory, and the handshake's room for the device cap (console/handshake_limits.py)."""

import asyncio
from urllib.parse import quote

import pytest
import websockets.http11

from api import stream_leases
from console.handshake_limits import allow_stream_urls, stream_request_line_bytes
from fleet import tokens
from fleet.ids import new_device_id


@pytest.fixture(params=["redis", "memory"])
def leases(request, settings):
    settings.TELLUS_STREAM_MAX_PER_CLIENT = 2
    settings.TELLUS_STREAM_LEASE_SECONDS = 30
    if request.param == "memory":
        settings.REDIS_URL = ""
    yield request.param
    stream_leases._memory.clear()


async def test_a_client_holds_at_most_its_cap_and_a_release_makes_room(leases):
    assert await stream_leases.acquire("cli_a", "set1", "conn1")
    assert await stream_leases.acquire("cli_a", "set2", "conn2")
    assert not await stream_leases.acquire("cli_a", "set3", "conn3")
    # Another client counts apart.
    assert await stream_leases.acquire("cli_b", "set3", "conn4")
    await stream_leases.release("cli_a", "set2", "conn2")
    assert await stream_leases.acquire("cli_a", "set3", "conn3")


async def test_a_newer_connection_takes_its_sets_lease_over(leases):
    assert await stream_leases.acquire("cli_a", "set1", "old")
    assert await stream_leases.acquire("cli_a", "set2", "other")
    # At the cap, the same set again is not another stream: the newer one takes it over.
    assert await stream_leases.acquire("cli_a", "set1", "new")
    assert not await stream_leases.refresh("cli_a", "set1", "old")
    assert await stream_leases.refresh("cli_a", "set1", "new")
    # The replaced connection closing late does not free its replacement's lease.
    await stream_leases.release("cli_a", "set1", "old")
    assert not await stream_leases.acquire("cli_a", "set3", "third")


async def test_a_lease_not_refreshed_runs_out_and_a_refreshed_one_does_not(leases, settings):
    settings.TELLUS_STREAM_LEASE_SECONDS = 1
    assert await stream_leases.acquire("cli_a", "kept", "conn1")
    assert await stream_leases.acquire("cli_a", "dropped", "conn2")
    for _ in range(3):
        await asyncio.sleep(0.5)
        assert await stream_leases.refresh("cli_a", "kept", "conn1")
    # "dropped" was not refreshed for 1.5 s: its slot is free, "kept"'s is not.
    assert await stream_leases.acquire("cli_a", "newcomer", "conn3")
    assert not await stream_leases.acquire("cli_a", "fourth", "conn4")


def test_the_handshake_has_room_for_the_device_cap_with_a_query_token(settings):
    settings.TELLUS_STREAM_MAX_DEVICES = 2000
    allow_stream_urls()
    assert websockets.http11.MAX_LINE_LENGTH >= stream_request_line_bytes()
    token = tokens.encode_token(
        tokens.OPERATOR,
        "cli_" + "f" * 12,
        1,
        scopes=["read", "write"],
        operator_id="op_" + "f" * 12,
    )
    # Commas and a space after each percent-encoded, as a careful client might send them.
    devices = quote(", ".join(new_device_id() for _ in range(2000)), safe="")
    line = f"GET /v1/operator/stream?devices={devices}&token={token} HTTP/1.1"
    assert len(line) <= websockets.http11.MAX_LINE_LENGTH
