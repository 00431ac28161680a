"""Reading fault events through the dictionary: which entry a code is, whether a
device's firmware is inside a known issue, and the codes nobody has documented yet."""

from typing import Any

from django.db.models import Count, Max, Min

from diagnostics.models import FaultCode
from diagnostics.versions import within
from fleet.errors import NotFound
from fleet.models import Device, DeviceEvent


def get_fault(code: str) -> FaultCode:
    fault = FaultCode.objects.filter(code=code).first()
    if fault is None:
        raise NotFound(f"Fault code '{code}' is not in the dictionary")
    return fault


def firmware_assessment(fault: FaultCode, device: Device) -> list[dict[str, Any]]:
    """For each known issue of the code that applies to the device's model: whether its
    firmware is affected (True / False / None when the versions cannot be compared) and
    the version that fixes it."""
    results = []
    for issue in fault.known_firmware_issues:
        models = issue.get("models") or []
        if models and device.model not in models:
            continue
        affected = within(
            device.firmware_version, issue.get("affected_from"), issue.get("affected_to")
        )
        results.append(
            {
                "summary": issue.get("summary", ""),
                "firmware_version": device.firmware_version,
                "affected": affected,
                "fixed_in": issue.get("fixed_in"),
                "affected_from": issue.get("affected_from"),
                "affected_to": issue.get("affected_to"),
            }
        )
    return results


def undocumented_codes(operator_id: str) -> list[dict[str, Any]]:
    """Fault codes reported in the operator's fleet that the dictionary does not know,
    with counts, first/last seen and the devices (the 'reporting unknown codes' work)."""
    known = FaultCode.objects.values_list("code", flat=True)
    events = (
        DeviceEvent.objects.filter(device__site__operator_id=operator_id, event_type="fault")
        .exclude(fault_code="")
        .exclude(fault_code__in=known)
    )
    rows = (
        events.values("fault_code")
        .annotate(count=Count("id"), first_seen=Min("timestamp"), last_seen=Max("timestamp"))
        .order_by("-count", "fault_code")
    )
    devices: dict[str, set[str]] = {}
    for code, device_id in events.values_list("fault_code", "device_id").distinct():
        devices.setdefault(code, set()).add(device_id)
    return [
        {
            "fault_code": row["fault_code"],
            "count": row["count"],
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"],
            "devices": sorted(devices.get(row["fault_code"], ())),
        }
        for row in rows
    ]


def fault_out(fault: FaultCode) -> dict[str, Any]:
    return {"code": fault.code, **fault.content()}
