from django.db import models

from fleet.models.commands import Command
from fleet.models.devices import Device
from fleet.models.operators import ApiClient


class LegacyOrder(models.Model):
    """A peer platform's charge or discharge order on the legacy interface."""

    class Kind(models.TextChoices):
        CHARGE = "charge"
        DISCHARGE = "discharge"

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="legacy_orders")
    order_id = models.CharField(max_length=64, help_text="The peer's OrderId.")
    vendor_order_id = models.CharField(max_length=40, unique=True, help_text="Ours.")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="legacy_orders")
    connector_id = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=32, default="STARTING")
    start_command = models.ForeignKey(
        Command, on_delete=models.SET_NULL, null=True, blank=True, related_name="legacy_orders"
    )
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["client", "order_id"], name="legacy_order_unique")
        ]
        indexes = [models.Index(fields=["device", "connector_id", "status"])]

    def __str__(self) -> str:
        return f"{self.order_id} → {self.vendor_order_id} ({self.status})"


class LegacyPush(models.Model):
    """Outbox: one call to a peer's legacy endpoint, written in the same transaction as the
    change that causes it, delivered (and retried) by Celery."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        DEAD = "dead"

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="legacy_pushes")
    kind = models.CharField(max_length=32)
    method = models.CharField(max_length=8)
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    # Pushes with the same key are delivered in order (an order id, or a charge point).
    ordering_key = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="push_due"),
            models.Index(fields=["ordering_key", "status", "id"], name="push_order"),
        ]
        verbose_name = "legacy push"

    def __str__(self) -> str:
        return f"{self.kind} → {self.url} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """Sent with every attempt of this push (header and body), the same each time, so
        a peer can drop a second delivery after a worker died mid-push."""
        return f"tellus-push-{self.pk}"


class LegacyPushAttempt(models.Model):
    push = models.ForeignKey(LegacyPush, on_delete=models.CASCADE, related_name="attempt_log")
    at = models.DateTimeField()
    outcome = models.CharField(max_length=16)  # accepted / rejected / http_error / error
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.push_id} @ {self.at:%H:%M:%S} {self.outcome}"
