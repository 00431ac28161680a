"""An operator's charging records: those uploaded while it owned the charger, including
chargers it has since handed over; foreign device ids are 3001."""

from datetime import datetime

from django.db.models import QuerySet

from fleet.models import ChargingRecord
from fleet.queries.filters import in_window, narrow
from fleet.services.tenancy import history_device


def charging_records(
    operator_id: str,
    *,
    device_id: str | None = None,
    connector_id: int | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> QuerySet[ChargingRecord]:
    """Records whose start_time lies in [start_time, end_time) (decision: record-window), newest
    first."""
    queryset = in_window(
        ChargingRecord.objects.filter(operator_id=operator_id),
        "start_time",
        start_time,
        end_time,
        ("start_time", "end_time"),
    )
    if device_id:
        queryset = queryset.filter(device_id=history_device(operator_id, device_id))
    return narrow(queryset, connector_id=connector_id).order_by("-start_time", "-id")
