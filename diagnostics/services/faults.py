"""Reading fault events through the dictionary: which entry a code is, whether a
device's firmware is inside a known issue, and the codes nobody has documented yet."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min

from diagnostics.models import FaultCode
from diagnostics.queries.faults import latest_reporters, operator_fault_events, reported_codes
from diagnostics.versions import parse_version, within
from fleet.errors import NotFound
from fleet.models import Device

# F-0203's warning temperatures (the dictionary's connector_warning_temp_c_ac / _dc):
# the over-temperature detector and an escalation's thermal checklist item both judge by them.
OVER_TEMPERATURE_C = {"AC": 65.0, "DC": 75.0}


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


def version_order(version: str) -> tuple:
    """A sort key putting firmware versions in version order (3.0.2 before 3.0.10), each
    numbering scheme together, and versions neither scheme reads last, as text."""
    parsed = parse_version(version)
    if parsed is None:
        return (1, "", (), version)
    return (0, parsed.scheme, parsed.parts, version)


def device_affected(fault: FaultCode, firmware_version: str, model: str) -> bool | None:
    """Whether a device's firmware is inside a known issue of the code that applies to
    its model: True, False, or None when a version cannot be compared with a bound."""
    verdicts = [
        within(firmware_version, issue.get("affected_from"), issue.get("affected_to"))
        for issue in fault.known_firmware_issues
        if not issue.get("models") or model in issue["models"]
    ]
    if any(verdict is True for verdict in verdicts):
        return True
    return None if any(verdict is None for verdict in verdicts) else False


def firmware_distribution(
    fault: FaultCode, devices: Iterable[tuple[str, str, int]]
) -> list[dict[str, Any]]:
    """Per firmware version, in version order: how many devices run it (from
    (firmware_version, model, device count) groups) and how many of them a known issue of
    the code affects. `state` says it in a word: affected (all of them), partly (some),
    unknown (none affected, some not comparable), clear."""
    versions: dict[str, dict[str, Any]] = {}
    for firmware_version, model, count in devices:
        row = versions.setdefault(
            firmware_version,
            {"version": firmware_version, "devices": 0, "affected": 0, "unknown": 0},
        )
        row["devices"] += count
        verdict = device_affected(fault, firmware_version, model)
        if verdict is True:
            row["affected"] += count
        elif verdict is None:
            row["unknown"] += count
    rows = sorted(versions.values(), key=lambda row: version_order(row["version"]))
    for row in rows:
        if row["affected"] and row["affected"] == row["devices"]:
            row["state"] = "affected"
        elif row["affected"]:
            row["state"] = "partly"
        elif row["unknown"]:
            row["state"] = "unknown"
        else:
            row["state"] = "clear"
    return rows


# At most this many distinct codes are looked at (see reported_codes): a bound on the
# work, reached only by chargers inventing codes.
MAX_REPORTED_CODES = 1000


def undocumented_codes(
    operator_id: str, *, since: datetime | None = None, max_devices: int | None = None
) -> list[dict[str, Any]]:
    """Fault codes reported in the operator's fleet (since `since`, if given) that the
    dictionary does not know, most reported first, with counts, first/last seen and the
    devices (the 'reporting unknown codes' work).

    `devices` lists every device id, sorted. With `max_devices` it lists the ones that
    reported the code most recently instead, newest first, at most that many, and
    `more_devices` says whether others did too: a bounded read for pages, where the
    whole list would grow with the fleet. Only the events of unknown codes are read,
    through the fault-code index."""
    codes = reported_codes(MAX_REPORTED_CODES)
    known = set(FaultCode.objects.filter(code__in=codes).values_list("code", flat=True))
    unknown = [code for code in codes if code not in known]
    if not unknown:
        return []
    events = operator_fault_events(operator_id).filter(fault_code__in=unknown)
    if since is not None:
        events = events.filter(timestamp__gte=since)
    totals = (
        events.order_by()
        .values_list("fault_code")
        .annotate(count=Count("*"), first_seen=Min("timestamp"), last_seen=Max("timestamp"))
    )
    rows = [
        {"fault_code": code, "count": count, "first_seen": first, "last_seen": last}
        for code, count, first, last in totals
    ]
    rows.sort(key=lambda row: (-row["count"], row["fault_code"]))
    found = [row["fault_code"] for row in rows]
    if max_devices is None:
        devices: dict[str, list[str]] = {}
        pairs = (
            events.filter(fault_code__in=found).order_by().values_list("fault_code", "device_id")
        )
        for code, device_id in pairs.distinct():
            devices.setdefault(code, []).append(device_id)
        for row in rows:
            row["devices"] = sorted(devices.get(row["fault_code"], []))
        return rows
    latest = latest_reporters(operator_id, found, since, max_devices + 1)
    for row in rows:
        reporters = latest.get(row["fault_code"], [])
        row["devices"] = reporters[:max_devices]
        row["more_devices"] = len(reporters) > max_devices
    return rows
