from django.conf import settings
from django.db import models

from fleet.ids import new_command_id
from fleet.models.devices import Device
from fleet.models.operators import ApiClient, Operator


class Command(models.Model):
    """A command for a charger, from queueing to its final outcome.

    `status` is what operators see (queued / accepted / completed / failed). The
    charger's own last report, which may be `rejected`, is kept in `device_status`
    (decision: rejected-is-failed). Delivery is recorded apart from status (decision:
    queued-until-answer).
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        ACCEPTED = "accepted"
        COMPLETED = "completed"
        FAILED = "failed"

    command_id = models.CharField(max_length=40, primary_key=True, default=new_command_id)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="commands")
    # Null for device-wide commands (firmware upgrade, power limits; decision:
    # device-wide-commands).
    connector_id = models.PositiveSmallIntegerField(null=True, blank=True)
    command = models.CharField(max_length=40)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    device_status = models.CharField(max_length=16, blank=True)
    result = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_via = models.CharField(max_length=16, blank=True)
    operator = models.ForeignKey(
        Operator, on_delete=models.CASCADE, null=True, blank=True, related_name="commands"
    )
    issued_by_client = models.ForeignKey(
        ApiClient, on_delete=models.SET_NULL, null=True, blank=True, related_name="commands"
    )
    issued_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tellus_commands",
    )
    issued_from = models.GenericIPAddressField(null=True, blank=True)
    control_id = models.CharField(max_length=40, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["device", "connector_id", "created_at"],
                condition=models.Q(status="queued"),
                name="command_queued_per_device",
            ),
            models.Index(fields=["status", "updated_at"], name="command_status_time"),
        ]

    def __str__(self) -> str:
        return f"{self.command} {self.command_id}"


class CommandStatusChange(models.Model):
    """One step in a command's history, with who caused it."""

    class Source(models.TextChoices):
        OPERATOR = "operator"
        CHARGER = "charger"
        PLATFORM = "platform"

    command = models.ForeignKey(Command, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=16)
    source = models.CharField(max_length=16, choices=Source.choices)
    message = models.TextField(blank=True)
    details = models.JSONField(null=True, blank=True)
    reported_at = models.DateTimeField(
        null=True, blank=True, help_text="The charger's own timestamp for its report."
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.command_id} → {self.status}"
