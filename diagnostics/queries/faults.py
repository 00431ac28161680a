"""The fault dictionary, shared by every operator."""

from collections.abc import Iterable

from django.db.models import QuerySet

from diagnostics.models import FaultCode
from fleet.models import DeviceEvent
from fleet.queries.filters import narrow


def fault_codes(*, severity: str | None = None, category: str | None = None) -> QuerySet[FaultCode]:
    """Dictionary entries by code."""
    return narrow(FaultCode.objects.order_by("code"), severity=severity, category=category)


def fault_titles(events: Iterable[DeviceEvent]) -> dict[str, str]:
    """The dictionary titles of the events' fault codes, in one query for a whole page;
    codes the dictionary does not know are absent."""
    codes = {event.fault_code for event in events if event.fault_code}
    return dict(FaultCode.objects.filter(code__in=codes).values_list("code", "title"))
