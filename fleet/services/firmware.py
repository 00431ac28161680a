"""Firmware upgrade progress reported by chargers."""

from django.db import transaction

from fleet.models import Device, FirmwareUpdate, Site
from fleet.services import firmware_campaigns

_FINAL = {FirmwareUpdate.Status.SUCCESS, FirmwareUpdate.Status.FAILED}


def report_firmware_status(
    device_id: str,
    firmware_version: str,
    status: str,
    progress: int | None = None,
    message: str | None = None,
) -> FirmwareUpdate:
    """Track the upgrade to `firmware_version`; on success the device runs that version.
    A report after a final one starts a new attempt, and so does one after the charger
    changed operator: an upgrade belongs to the operator it was reported under. The
    charger's active firmware campaign, if any, follows the report."""
    with transaction.atomic():
        device = Device.objects.select_for_update().get(device_id=device_id)
        owner = Site.objects.filter(pk=device.site_id).values_list("operator_id", flat=True).first()
        update = (
            FirmwareUpdate.objects.filter(
                device=device, firmware_version=firmware_version, operator_id=owner
            )
            .exclude(status__in=_FINAL)
            .order_by("-created_at")
            .first()
        )
        if update is None:
            update = FirmwareUpdate(
                device=device,
                operator_id=owner,
                firmware_version=firmware_version,
                previous_version=device.firmware_version,
            )
        update.status = status
        if progress is not None:
            update.progress = progress
        elif status == FirmwareUpdate.Status.SUCCESS:
            update.progress = 100
        update.message = message or ""
        update.save()
        if status == FirmwareUpdate.Status.SUCCESS and device.firmware_version != firmware_version:
            device.firmware_version = firmware_version
            device.save(update_fields=["firmware_version", "updated_at"])
        # The charger's row in its active firmware campaign follows at once.
        firmware_campaigns.on_firmware_report(
            device_id, firmware_version, status, update.progress, message or ""
        )
    return update
