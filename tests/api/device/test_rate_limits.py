"""Per-device rate classes: heartbeat and telemetry share one bucket, the rest another."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from fleet.models import TelemetrySample
from tests.conftest import TRANSPORTS, now_iso

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("http", TRANSPORTS, indirect=True)
async def test_high_frequency_bucket_is_shared_and_answers_429_5001(charger, settings):
    settings.TELLUS_RATE_DEVICE_HIGH_FREQUENCY = (3, 60)
    unit = await charger()
    assert (await unit.telemetry()).status_code == 200
    assert (await unit.heartbeat()).status_code == 200
    assert (await unit.telemetry()).status_code == 200
    refused = await unit.heartbeat()
    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == 5001
    assert isinstance(body["details"]["retry_after_seconds"], int)
    assert 1 <= body["details"]["retry_after_seconds"] <= 60
    assert refused.headers["Retry-After"] == str(body["details"]["retry_after_seconds"])


@pytest.mark.parametrize("http", TRANSPORTS, indirect=True)
async def test_buckets_are_per_device_and_per_class(charger, settings):
    settings.TELLUS_RATE_DEVICE_HIGH_FREQUENCY = (1, 60)
    first, second = await charger(), await charger()
    assert (await first.telemetry()).status_code == 200
    assert (await first.telemetry()).status_code == 429
    assert (await second.telemetry()).status_code == 200
    event = {"timestamp": now_iso(), "event_type": "alarm", "connector_id": 1, "data": {}}
    assert (await first.post("events", event)).status_code == 200


async def test_other_endpoints_share_the_other_bucket(charger, settings):
    settings.TELLUS_RATE_DEVICE_OTHER = (2, 60)
    unit = await charger()
    event = {"timestamp": now_iso(), "event_type": "alarm", "connector_id": 1, "data": {}}
    assert (await unit.post("events", event)).status_code == 200
    assert (await unit.poll(wait=1)).status_code == 200
    refused = await unit.post("firmware/status", {"firmware_version": "1", "status": "downloading"})
    assert refused.status_code == 429
    assert refused.json()["code"] == 5001


async def test_refused_requests_store_nothing(charger, settings):
    settings.TELLUS_RATE_DEVICE_HIGH_FREQUENCY = (1, 60)
    unit = await charger()
    await unit.telemetry()
    assert (await unit.telemetry()).status_code == 429
    count = await sync_to_async(TelemetrySample.objects.filter(device_id=unit.device_id).count)()
    assert count == 1


async def test_authentication_is_checked_before_the_limit(http, settings):
    settings.TELLUS_RATE_DEVICE_HIGH_FREQUENCY = (1, 60)
    for _ in range(3):
        response = await http.post("/v1/device/telemetry", json={})
        assert response.status_code == 401


async def test_device_token_requests_are_limited_per_device(http, charger, settings):
    settings.TELLUS_RATE_TOKEN = (2, 60)
    unit = await charger()  # its own token request counts
    grant = {
        "device_id": unit.device_id,
        "device_secret": unit.secret,
        "grant_type": "client_credentials",
    }
    assert (await http.post("/v1/device/token", json=grant)).status_code == 200
    refused = await http.post("/v1/device/token", json=grant)
    assert refused.status_code == 429
    assert refused.json()["code"] == 5001


async def test_registration_is_limited_per_source_address(http, settings):
    settings.TELLUS_RATE_DEVICE_OTHER = (2, 60)
    body = {"model": "m", "manufacturer": "x", "firmware_version": "1"}
    assert (await http.post("/v1/device/register", json={**body, "sn": "A"})).status_code == 200
    assert (await http.post("/v1/device/register", json={**body, "sn": "B"})).status_code == 200
    refused = await http.post("/v1/device/register", json={**body, "sn": "C"})
    assert refused.status_code == 429


@pytest.mark.parametrize("http", TRANSPORTS, indirect=True)
async def test_a_burst_across_a_window_boundary_cannot_pass_twice_the_rate(charger, settings):
    # 5 per 2 s: one request, then four 1.5 s later, then five more once the first
    # request is 2 s old. A fixed window opened by the first request has just rolled
    # over and would let all five through (nine in 0.6 s); the moving window counts the
    # four of 0.6 s ago and lets one through.
    settings.TELLUS_RATE_DEVICE_HIGH_FREQUENCY = (5, 2)
    unit = await charger()
    assert (await unit.telemetry()).status_code == 200
    # Timed from its answer: the request was counted by then, however slow the machine.
    started = time.monotonic()
    await asyncio.sleep(1.5 - (time.monotonic() - started))
    assert [(await unit.telemetry()).status_code for _ in range(4)] == [200] * 4
    await asyncio.sleep(2.1 - (time.monotonic() - started))
    statuses = [(await unit.telemetry()).status_code for _ in range(5)]
    assert statuses == [200, 429, 429, 429, 429]
