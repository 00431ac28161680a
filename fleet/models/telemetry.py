from django.db import models

from fleet.models.devices import Device
from fleet.models.stamps import StampedFact, stamp_field


class TelemetrySample(StampedFact):
    """One connector's electrical snapshot as the charger sent it, stamped with the
    operator and site owning the charger when it arrived (fleet/models/stamps.py)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="telemetry")
    operator = stamp_field("fleet.Operator")
    site = stamp_field("fleet.Site")
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
            # an operator's samples in a time window (the energy report's partial hours,
            # the peak rollup's recomputation), whatever chargers it owned then
            models.Index(fields=["operator", "timestamp"], name="telemetry_operator_time"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id}#{self.connector_id} @ {self.timestamp:%Y-%m-%dT%H:%M:%SZ}"


class SitePowerPeak(models.Model):
    """The highest power magnitude of any single telemetry sample stamped with one
    operator and site in one UTC hour, for the energy report's `max_power`
    (fleet/services/energy.py).

    Kept on PostgreSQL by triggers (migrations 0010, 0014), never by the application;
    SQLite installs leave it empty. Per operator and site rather than per charger: 100
    sites give 72,000 rows for 30 days where 10,000 chargers would give 7,200,000. Keyed
    by the samples' own stamps, so a charger or a site changing hands moves nothing here.
    The keys are plain references, as the samples' stamps are."""

    # The unique constraint's index (operator, hour, site) serves the report's lookups
    # (one operator's hours, maybe some of its sites): no second one.
    operator = models.ForeignKey(
        "fleet.Operator",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    site = models.ForeignKey(
        "fleet.Site", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
        related_name="+",
    )  # fmt: skip
    hour = models.DateTimeField()
    peak = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "hour", "site"], name="power_peak_operator_hour_site"
            )
        ]

    def __str__(self) -> str:
        return f"{self.operator_id}/{self.site_id} @ {self.hour:%Y-%m-%dT%H:00Z}: {self.peak} kW"


class DeviceEvent(StampedFact):
    """An event reported by a charger, or derived by the platform (e.g. heartbeat lost),
    stamped with the operator and site owning the charger when it was stored."""

    class Source(models.TextChoices):
        CHARGER = "charger"
        PLATFORM = "platform"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="events")
    operator = stamp_field("fleet.Operator")
    site = stamp_field("fleet.Site")
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
    # The firmware the charger ran when it reported the fault: a cluster of a code is
    # judged on the build that raised it, not on the one the charger runs after an
    # upgrade. "" where not known (platform events, facts stored before this was kept).
    firmware_version = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-timestamp"]
        indexes = [
            models.Index(fields=["device", "-timestamp"], name="event_device_time"),
            models.Index(fields=["fault_code", "-timestamp"], name="event_code_time"),
            # The fault pages' "which chargers raised code X since T" for one operator:
            # read from the index alone (device and operator included), and the distinct
            # codes by a skip scan.
            models.Index(
                fields=["fault_code", "timestamp"],
                include=["device", "operator"],
                condition=models.Q(event_type="fault"),
                name="event_fault_code_time_device",
            ),
            # The fleet page's "latest faults of the operator": the operator's newest fault
            # events first, stopping at the few it shows (a full sort at 1,000,000 events).
            models.Index(
                models.F("operator"),
                models.F("timestamp").desc(),
                models.F("id").desc(),
                condition=~models.Q(fault_code=""),
                name="event_operator_recent_faults",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} on {self.device_id}#{self.connector_id}"
