"""The log of a charger's ownership changes (fleet.models.stamps: why it matters)."""

from django.db import models

from fleet.models.devices import Device
from fleet.models.operators import Operator
from fleet.models.sites import Site


class DeviceOwnershipChange(models.Model):
    """A charger moving to another site or operator (the charger itself, or its site),
    by any path: the service, the admin, a management command. Names are kept as they
    were, so the log reads the same after a site or operator is renamed or deleted."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="ownership_changes")
    operator_before = models.ForeignKey(
        Operator, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    operator_before_name = models.CharField(max_length=200, blank=True)
    site_before = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    site_before_name = models.CharField(max_length=200, blank=True)
    operator_after = models.ForeignKey(
        Operator, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    operator_after_name = models.CharField(max_length=200, blank=True)
    site_after = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    site_after_name = models.CharField(max_length=200, blank=True)
    # What moved: the charger itself, or the site it stands on.
    via_site = models.BooleanField(default=False)
    actor = models.CharField(
        max_length=150, help_text="client:<id>, user:<name>, cli:<os user> or platform"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        # A charger's changes newest first (its console page); whether an operator ever
        # owned a charger (history reads of a charger no longer in its fleet).
        indexes = [
            models.Index(fields=["device", "-at"], name="ownership_device_time"),
            models.Index(fields=["operator_before", "device"], name="ownership_former_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.operator_before_name} → {self.operator_after_name}"
