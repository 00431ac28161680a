"""Group commit of telemetry on PostgreSQL: many samples, one statement, and every
request still answered only once its own sample is committed."""

import asyncio

import pytest

from fleet.services import telemetry
from fleet.services.telemetry import TelemetryWriter


async def test_samples_arriving_together_share_a_batch(monkeypatch):
    batches: list[list[str]] = []

    async def write(rows):
        batches.append([row["device_id"] for row in rows])
        await asyncio.sleep(0.01)

    monkeypatch.setattr(telemetry, "_write_batch", write)
    writer = TelemetryWriter()
    await asyncio.gather(*(writer.write({"device_id": f"d{n}"}) for n in range(10)))
    assert sorted(d for batch in batches for d in batch) == sorted(f"d{n}" for n in range(10))
    assert len(batches) < 10


async def test_a_bad_sample_fails_only_its_own_request(monkeypatch):
    async def write(rows):
        if any(row["device_id"] == "bad" for row in rows):
            raise ValueError("constraint violated")

    monkeypatch.setattr(telemetry, "_write_batch", write)
    writer = TelemetryWriter()
    results = await asyncio.gather(
        writer.write({"device_id": "a"}),
        writer.write({"device_id": "bad"}),
        writer.write({"device_id": "b"}),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)


async def test_a_request_waits_for_its_own_commit(monkeypatch):
    committed: list[str] = []

    async def write(rows):
        await asyncio.sleep(0.05)
        committed.extend(row["device_id"] for row in rows)

    monkeypatch.setattr(telemetry, "_write_batch", write)
    writer = TelemetryWriter()
    await writer.write({"device_id": "x"})
    assert committed == ["x"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("http", ["fastpath"], indirect=True)
async def test_concurrent_uploads_are_all_stored_and_the_newest_wins(charger):
    from asgiref.sync import sync_to_async

    from fleet.models import Connector, TelemetrySample

    units = [await charger() for _ in range(4)]
    uploads = [
        unit.telemetry(timestamp=f"2025-03-15T11:00:{second:02d}Z", power=float(second))
        for unit in units
        for second in range(10)
    ]
    responses = await asyncio.gather(*uploads)
    assert all(r.status_code == 200 for r in responses)
    ids = [u.device_id for u in units]
    count = await sync_to_async(TelemetrySample.objects.filter(device_id__in=ids).count)()
    assert count == 40
    powers = await sync_to_async(
        lambda: sorted(Connector.objects.filter(device_id__in=ids).values_list("power", flat=True))
    )()
    assert powers == [9.0, 9.0, 9.0, 9.0]
