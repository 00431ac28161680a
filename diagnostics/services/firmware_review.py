"""What a device page says about the firmware a charger runs: the known issues of the
fault dictionary whose affected range contains it, and whether its model has a newer
stable build."""

from dataclasses import dataclass

from diagnostics.checks import model_catalogue
from diagnostics.models import FaultCode
from diagnostics.services.faults import firmware_assessment
from diagnostics.versions import compare
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
        for issue in firmware_assessment(fault, device):
            # An issue without a range says nothing about this device's version.
            if issue["affected"] is not True or not (
                issue["affected_from"] or issue["affected_to"]
            ):
                continue
            fixed = f" (fixed in {issue['fixed_in']})" if issue["fixed_in"] else ""
            text = f"{fault.code}: {issue['summary'] or fault.title}{fixed}"
            notes.append(FirmwareNote("known_issue", text, fault.code))
    latest = (model_catalogue().get(device.model) or {}).get("latest_stable")
    if latest and compare(device.firmware_version, latest) == -1:
        text = f"Behind the latest stable build for {device.model}, {latest}"
        notes.append(FirmwareNote("behind_latest", text))
    return notes
