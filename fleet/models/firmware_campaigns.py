"""Firmware campaigns: a staged rollout of one firmware version over a set of an
operator's chargers, and each charger's place and progress in it (an extension)."""

from django.db import models
from django.utils import timezone

from fleet.ids import new_campaign_id
from fleet.models.commands import Command
from fleet.models.devices import Device
from fleet.models.operators import Operator


class FirmwareCampaign(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        PAUSED = "paused"
        HALTED = "halted"
        CANCELLED = "cancelled"
        COMPLETED = "completed"

    # A campaign in one of these holds its chargers: no other campaign may take them.
    ACTIVE = (Status.RUNNING, Status.PAUSED, Status.HALTED)

    campaign_id = models.CharField(max_length=40, primary_key=True, default=new_campaign_id)
    operator = models.ForeignKey(
        Operator, on_delete=models.CASCADE, related_name="firmware_campaigns"
    )
    name = models.CharField(max_length=120)
    target_version = models.CharField(max_length=64)
    package_url = models.CharField(max_length=2048)
    # What the operator asked for, as asked: {"device_ids": [...]} or
    # {"model": ..., "firmware_versions": [...], "site_ids": [...]}.
    selection = models.JSONField(default=dict, blank=True)
    stages = models.JSONField(default=list)  # cumulative percentages, the last 100
    health_window_minutes = models.PositiveIntegerField(default=30)
    # {"failed_percent": float | None, "fault_codes": [str], "fault_rate_factor": float}
    halt_if = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    current_stage = models.PositiveSmallIntegerField(default=0)
    stage_started_at = models.DateTimeField(default=timezone.now)
    # When each stage began so far, ISO 8601, by stage index.
    stage_starts = models.JSONField(default=list, blank=True)
    halt_reason = models.TextField(blank=True)
    halted_at = models.DateTimeField(null=True, blank=True)
    # The halt rules count what happened from here on: the start, or the operator's
    # resume of a halted campaign (decision: campaign-resume-after-halt).
    rules_from = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-campaign_id"]
        indexes = [
            models.Index(fields=["operator", "-created_at"], name="campaign_operator_time"),
            models.Index(fields=["status"], name="campaign_status"),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.target_version} ({self.status})"


class CampaignDevice(models.Model):
    """One charger of a campaign: its stage, where its upgrade is and why it ended so."""

    class State(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        DOWNLOADING = "downloading"
        UPGRADING = "upgrading"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"

    FINAL = (State.SUCCEEDED, State.FAILED, State.SKIPPED)

    campaign = models.ForeignKey(FirmwareCampaign, on_delete=models.CASCADE, related_name="devices")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="campaign_rows")
    stage = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    # True while the campaign is active and the charger is its to upgrade (not skipped);
    # at most one such row per charger (the constraint below backs the row locks).
    holds = models.BooleanField(default=False)
    from_version = models.CharField(max_length=64, blank=True)
    command = models.ForeignKey(
        Command, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    report_status = models.CharField(max_length=16, blank=True)
    report_progress = models.PositiveSmallIntegerField(null=True, blank=True)
    report_message = models.TextField(blank=True)
    report_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    reason = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stage", "device_id"]
        indexes = [
            models.Index(fields=["campaign", "stage", "state"], name="campaign_device_stage"),
        ]
        constraints = [
            # Also the index finding a charger's active campaign.
            models.UniqueConstraint(
                fields=["device"], condition=models.Q(holds=True), name="one_active_campaign"
            ),
            models.UniqueConstraint(fields=["campaign", "device"], name="campaign_device_once"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.device_id} ({self.state})"
