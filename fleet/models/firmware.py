from django.core.validators import MaxValueValidator
from django.db import models

from fleet.models.devices import Device
from fleet.models.stamps import StampedFact, stamp_field


class FirmwareUpdate(StampedFact):
    """A firmware upgrade of one device to one version, with its latest progress, stamped
    with the operator owning the device when the upgrade was first reported."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DOWNLOADING = "downloading"
        UPGRADING = "upgrading"
        SUCCESS = "success"
        FAILED = "failed"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="firmware_updates")
    operator = stamp_field("fleet.Operator")
    firmware_version = models.CharField(max_length=64)
    previous_version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["device", "-created_at"], name="firmware_device_time")]

    def __str__(self) -> str:
        return f"{self.device_id} → {self.firmware_version} ({self.status})"
