from django.db import models

from fleet.models.devices import Device
from fleet.models.sites import Site


class TelemetrySample(models.Model):
    """One connector's electrical snapshot as the charger sent it."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="telemetry")
    connector_id = models.PositiveSmallIntegerField()
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=16)
    voltage = models.FloatField()
    current = models.FloatField()
    power = models.FloatField()
    energy_delivered = models.FloatField()
    soc = models.PositiveSmallIntegerField(null=True, blank=True)
    temperature = models.FloatField(null=True, blank=True)
    phase_details = models.JSONField(null=True, blank=True)
    component_health = models.JSONField(null=True, blank=True)
    extra = models.JSONField(
        null=True, blank=True, help_text="Fields the charger sent that the spec does not define."
    )

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            # latest telemetry per connector, and time windows on one connector
            models.Index(fields=["device", "connector_id", "-timestamp"], name="telemetry_latest"),
            models.Index(fields=["timestamp"], name="telemetry_time"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id}#{self.connector_id} @ {self.timestamp:%Y-%m-%dT%H:%M:%SZ}"


class SitePowerPeak(models.Model):
    """The highest power magnitude of any single telemetry sample of a site's chargers in
    one UTC hour, for the energy report's `max_power` (fleet/services/energy.py).

    Kept on PostgreSQL by triggers (migration 0010), never by the application; SQLite
    installs leave it empty. Per site rather than per charger: 100 sites give 72,000 rows
    for 30 days where 10,000 chargers would give 7,200,000."""

    # The unique constraint's index (site, hour) serves the site lookups: no second one.
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="+", db_index=False)
    hour = models.DateTimeField()
    peak = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "hour"], name="site_power_peak_hour")
        ]

    def __str__(self) -> str:
        return f"{self.site_id} @ {self.hour:%Y-%m-%dT%H:00Z}: {self.peak} kW"


class DeviceEvent(models.Model):
    """An event reported by a charger, or derived by the platform (e.g. heartbeat lost)."""

    class Source(models.TextChoices):
        CHARGER = "charger"
        PLATFORM = "platform"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="events")
    # 0 is tolerated for whole-device events (decision: connector-zero-events).
    connector_id = models.PositiveSmallIntegerField()
    event_type = models.CharField(max_length=32)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)
    # The charger's own time, as sent, when it was outside the window we can trust
    # (a wrong clock); `timestamp` is then the receive time.
    claimed_timestamp = models.CharField(max_length=40, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The fault code as text ("1001" or "F-0421"); data keeps the value as it was sent.
    fault_code = models.CharField(max_length=32, blank=True, db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CHARGER)

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["device", "-timestamp"], name="event_device_time"),
            models.Index(fields=["fault_code", "-timestamp"], name="event_code_time"),
            # The fault pages' "which chargers raised code X since T": read from the index
            # alone (device_id included), and the distinct codes by a skip scan.
            models.Index(
                fields=["fault_code", "timestamp"],
                include=["device"],
                condition=models.Q(event_type="fault"),
                name="event_fault_code_time_device",
            ),
            # The fleet page's "latest faults of the operator": the newest fault events
            # first, stopping at the few it shows (a full sort at 1,000,000 events).
            models.Index(
                models.F("timestamp").desc(),
                models.F("id").desc(),
                condition=~models.Q(fault_code=""),
                name="event_recent_faults",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} on {self.device_id}#{self.connector_id}"
