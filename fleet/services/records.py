"""Charging detail records uploaded by chargers."""

import hashlib
import json
from typing import Any

from django.db import IntegrityError, transaction

from fleet.errors import Conflict
from fleet.models import ChargingRecord
from fleet.signals import session_ended


def upload_digest(upload: dict[str, Any]) -> str:
    canonical = json.dumps(upload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def store_charging_record(device_id: str, upload: dict[str, Any]) -> tuple[ChargingRecord, bool]:
    """Store a CDR. The same record again is a retry: success, nothing new stored. The same
    record_id with other content is a conflict (decision: idempotent-records). Returns (record,
    created)."""
    digest = upload_digest(upload)
    existing = ChargingRecord.objects.filter(device_id=device_id, record_id=upload["record_id"])
    found = existing.first()
    if found is None:
        try:
            with transaction.atomic():
                record = ChargingRecord.objects.create(
                    device_id=device_id, upload_digest=digest, **upload
                )
                session_ended.send(
                    sender=ChargingRecord, device_id=device_id, connector_id=record.connector_id
                )
                return record, True
        except IntegrityError:
            found = existing.first()  # a concurrent upload of the same record won
            if found is None:
                raise
    if found.upload_digest != digest:
        raise Conflict(
            f"Charging record '{upload['record_id']}' was already uploaded with other content",
            {"field": "record_id", "value": upload["record_id"]},
        )
    return found, False
