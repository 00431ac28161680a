"""What a device page says about the firmware a charger runs: the known issues of the
fault dictionary whose affected range contains it, and how far it is behind its model's
latest stable build."""

from dataclasses import dataclass

from diagnostics.checks import model_catalogue
from diagnostics.models import FaultCode
from diagnostics.versions import compare, within
from fleet.models import Device


@dataclass(frozen=True)
class FirmwareNote:
    kind: str  # "known_issue" or "behind_latest"
    text: str
    fault_code: str = ""


def firmware_notes(device: Device) -> list[FirmwareNote]:
    """Known issues that affect the device's firmware, then whether a newer stable build
    exists; nothing is said where the versions cannot be compared."""
    notes = []
    for fault in FaultCode.objects.exclude(known_firmware_issues=[]).order_by("code"):
        for issue in fault.known_firmware_issues:
            models = issue.get("models") or []
            if models and device.model not in models:
                continue
            low, high = issue.get("affected_from"), issue.get("affected_to")
            if not (low or high) or not within(device.firmware_version, low, high):
                continue
            fixed = issue.get("fixed_in")
            notes.append(
                FirmwareNote(
                    "known_issue",
                    f"{fault.code}: {issue.get('summary') or fault.title}"
                    + (f" (fixed in {fixed})" if fixed else ""),
                    fault.code,
                )
            )
    latest = (model_catalogue().get(device.model) or {}).get("latest_stable")
    if latest and compare(device.firmware_version, latest) == -1:
        notes.append(
            FirmwareNote(
                "behind_latest", f"Behind the latest stable build for {device.model}, {latest}"
            )
        )
    return notes
