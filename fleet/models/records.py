from django.db import models

from fleet.models.devices import Device
from fleet.models.stamps import StampedFact, stamp_field


class ChargingRecord(StampedFact):
    """A charging detail record uploaded by the charger after a session, stamped with the
    operator and site owning the charger when it was uploaded."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="charging_records")
    operator = stamp_field("fleet.Operator")
    site = stamp_field("fleet.Site")
    record_id = models.CharField(max_length=64)
    connector_id = models.PositiveSmallIntegerField()
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    energy = models.FloatField(help_text="kWh")
    max_power = models.FloatField(help_text="kW")
    avg_power = models.FloatField(help_text="kW")
    cost = models.FloatField(null=True, blank=True, help_text="Negative is V2G revenue.")
    meter_start = models.FloatField(help_text="kWh")
    meter_end = models.FloatField(help_text="kWh")
    vehicle_info = models.JSONField(null=True, blank=True)
    stop_reason = models.CharField(max_length=64, blank=True)
    details = models.JSONField(null=True, blank=True)
    # Digest of the upload as received: a retried upload is recognised by it (decision:
    # idempotent-records).
    upload_digest = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_time"]
        constraints = [
            models.UniqueConstraint(fields=["device", "record_id"], name="record_unique_per_device")
        ]
        indexes = [
            models.Index(fields=["device", "-start_time"], name="record_device_time"),
            # an operator's records newest first (its list, records.csv, the energy report)
            models.Index(fields=["operator", "-start_time"], name="record_operator_time"),
        ]

    def __str__(self) -> str:
        return self.record_id
