from datetime import UTC, datetime

from fleet.models import ChargingRecord


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def make_record(device, record_id: str, start: str, end: str, energy: float, **extra):
    return ChargingRecord.objects.create(
        device=device,
        record_id=record_id,
        connector_id=extra.pop("connector_id", 1),
        start_time=at(start),
        end_time=at(end),
        energy=energy,
        max_power=extra.pop("max_power", 7.2),
        avg_power=extra.pop("avg_power", 6.8),
        meter_start=100.0,
        meter_end=100.0 + abs(energy),
        upload_digest=record_id,
        **extra,
    )
