from django.conf import settings
from django.db import models

from fleet.ids import new_control_id
from fleet.models.devices import Device
from fleet.models.operators import ApiClient, Operator


class Schedule(models.Model):
    """A charge plan stored on a connector; the charger runs it on its own (decision:
    schedule-answer)."""

    class Type(models.TextChoices):
        ONCE = "once"
        DAILY = "daily"
        WEEKLY = "weekly"

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="schedules")
    connector_id = models.PositiveSmallIntegerField()
    schedule_id = models.CharField(max_length=64)
    enabled = models.BooleanField()
    type = models.CharField(max_length=8, choices=Type.choices)
    time_slots = models.JSONField()
    target_soc = models.PositiveSmallIntegerField(null=True, blank=True)
    effective_from = models.DateTimeField(null=True, blank=True)
    effective_until = models.DateTimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    last_command_id = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["device", "connector_id", "schedule_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "connector_id", "schedule_id"], name="schedule_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} on {self.device_id}#{self.connector_id}"


class Control(models.Model):
    """A load-flexibility action over a group of chargers: one command per charger."""

    control_id = models.CharField(max_length=40, primary_key=True, default=new_control_id)
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="controls")
    target_type = models.CharField(max_length=16)
    target_ids = models.JSONField(default=list, blank=True)
    command = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    issued_by_client = models.ForeignKey(
        ApiClient, on_delete=models.SET_NULL, null=True, blank=True, related_name="controls"
    )
    issued_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    issued_from = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.command} {self.control_id}"
