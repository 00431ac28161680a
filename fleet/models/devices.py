import re

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Upper

from fleet.credentials import secret_matches
from fleet.ids import new_device_id
from fleet.models.sites import Site
from fleet.models.stamps import StampedFact, stamp_field


class ConnectorState(models.TextChoices):
    """The spec's ConnectorState plus `preparing`, which the runbooks rely on (decision:
    preparing-state)."""

    IDLE = "idle"
    PREPARING = "preparing"
    CHARGING = "charging"
    DISCHARGING = "discharging"
    FAULT = "fault"
    UNAVAILABLE = "unavailable"


class Device(models.Model):
    """A charger. `status` is derived from heartbeat freshness (decision: device-status); what the
    charger itself last claimed in a heartbeat is kept apart in `reported_status`."""

    class Status(models.TextChoices):
        ONLINE = "online"
        OFFLINE = "offline"

    device_id = models.CharField(max_length=32, primary_key=True, default=new_device_id)
    sn = models.CharField("serial number", max_length=64, unique=True)
    model = models.CharField(max_length=100)
    manufacturer = models.CharField(max_length=100)
    firmware_version = models.CharField(max_length=64)
    mac = models.CharField("MAC address", max_length=17, blank=True)
    secret_hash = models.CharField(max_length=128)
    secret_expires_at = models.DateTimeField()
    credential_version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OFFLINE)
    reported_status = models.CharField(max_length=16, blank=True)
    reported_fault_code = models.IntegerField(null=True, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    online_since = models.DateTimeField(null=True, blank=True)
    offline_since = models.DateTimeField(null=True, blank=True)
    site = models.ForeignKey(
        Site, on_delete=models.SET_NULL, null=True, blank=True, related_name="devices"
    )
    v2g_capable = models.BooleanField("V2G capable", default=False)
    # Hardware facts the legacy interface needs (decision: legacy-ids); guessed from the model name
    # when unset.
    current_type = models.CharField(max_length=2, choices=[("AC", "AC"), ("DC", "DC")], blank=True)
    rated_power_kw = models.PositiveIntegerField(null=True, blank=True)
    # Connector statuses last announced to legacy peers ({"1": "Available", ...}).
    legacy_statuses = models.JSONField(default=dict, blank=True)
    registered_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["registered_at", "device_id"]
        indexes = [
            models.Index(fields=["site", "status"]),
            models.Index(fields=["status", "last_heartbeat"]),
        ]
        constraints = [
            # `ABC123` is the serial `abc123` (registration is unauthenticated: a case
            # variant must not pass for another charger). SQLite's upper() folds ASCII only.
            models.UniqueConstraint(Upper("sn"), name="device_sn_case_insensitive"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} ({self.sn})"

    def check_secret(self, secret: str) -> bool:
        return secret_matches(secret, self.secret_hash)

    @property
    def kind(self) -> str:
        """AC or DC: as set, else guessed from the model name (TP-DC180 → DC)."""
        return self.current_type or ("DC" if "DC" in self.model.upper() else "AC")

    @property
    def max_power_kw(self) -> int:
        """Rated kW: as set, else the first number in the model name (TP-DC180 → 180)."""
        if self.rated_power_kw:
            return self.rated_power_kw
        match = re.search(r"(\d+)", self.model)
        return max(1, int(match.group(1))) if match else 1


class Connector(models.Model):
    """A connector's live state: the values of the newest telemetry received."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="connectors")
    connector_id = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    state = models.CharField(
        max_length=16, choices=ConnectorState.choices, default=ConnectorState.UNAVAILABLE
    )
    power = models.FloatField(null=True, blank=True)
    voltage = models.FloatField(null=True, blank=True)
    current = models.FloatField(null=True, blank=True)
    energy_delivered = models.FloatField(null=True, blank=True)
    soc = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(100)]
    )
    temperature = models.FloatField(null=True, blank=True)
    last_telemetry_time = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["device", "connector_id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "connector_id"], name="connector_unique"),
            models.CheckConstraint(
                condition=models.Q(connector_id__gte=1), name="connector_id_gte_1"
            ),
        ]
        indexes = [models.Index(fields=["state"])]

    def __str__(self) -> str:
        return f"{self.device_id}#{self.connector_id}"


class ConnectivityChange(StampedFact):
    """A device going online or offline, for reconnect-storm detection (decision: reconnects),
    stamped with the operator owning the device then."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="connectivity")
    operator = stamp_field("fleet.Operator")
    status = models.CharField(max_length=8, choices=Device.Status.choices)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["device", "-at"], name="connectivity_device_time")]

    def __str__(self) -> str:
        return f"{self.device_id} {self.status} @ {self.at:%Y-%m-%dT%H:%M:%SZ}"
