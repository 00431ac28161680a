from django.db import models

from fleet.ids import new_run_id


class FaultCode(models.Model):
    """A fault dictionary entry. Loaded from diagnostics/data/faults.yaml by
    `load_diagnostics`, editable in the admin; `loaded_digest` tells a reload whether
    the row still holds what the file gave it (if not, an admin edit is kept)."""

    class Severity(models.TextChoices):
        ERROR = "error"
        WARNING = "warning"

    class Source(models.TextChoices):
        CHARGER = "charger"
        PLATFORM = "platform"

    code = models.CharField(max_length=32, primary_key=True)
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    category = models.CharField(max_length=32)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CHARGER)
    description = models.TextField()
    symptoms = models.JSONField(default=list, blank=True)
    likely_causes = models.JSONField(default=list, blank=True)
    diagnostic_steps = models.JSONField(
        default=list, blank=True, help_text="[{text, on_site, proposed}] in order."
    )
    related_telemetry = models.JSONField(default=list, blank=True)
    related_commands = models.JSONField(default=list, blank=True)
    known_firmware_issues = models.JSONField(
        default=list,
        blank=True,
        help_text="[{summary, models, affected_from, affected_to, fixed_in}], bounds inclusive.",
    )
    # What the documentation says about firmware when it is narrower than "none": e.g. no
    # issue known from one build onwards, with nothing said about older builds. Shown in
    # place of "none known" when there is no known issue (decision: firmware-statement).
    firmware_statement = models.TextField(
        blank=True,
        help_text="One or two sentences, when the documentation scopes its firmware statement "
        "(e.g. “No issue known from firmware 260420.0107 onwards; older builds are not "
        "documented.”). Leave empty when it says plainly that none are known.",
    )
    thresholds = models.JSONField(default=dict, blank=True)
    loaded_digest = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    CONTENT_FIELDS = (
        "title", "severity", "category", "source", "description", "symptoms", "likely_causes",
        "diagnostic_steps", "related_telemetry", "related_commands", "known_firmware_issues",
        "firmware_statement", "thresholds",
    )  # fmt: skip

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def content(self) -> dict:
        return {field: getattr(self, field) for field in self.CONTENT_FIELDS}


class Runbook(models.Model):
    """A guided diagnostic procedure; its ordered steps (title, instructions, on-site
    flag, optional check, optional command, branch rules) are data, loaded from
    diagnostics/data/runbooks.yaml like the fault dictionary."""

    slug = models.SlugField(max_length=80, primary_key=True)
    title = models.CharField(max_length=200)
    applicable_models = models.JSONField(default=list, blank=True, help_text="[] = all models")
    symptom = models.TextField()
    linked_fault_codes = models.JSONField(default=list, blank=True)
    triggers = models.JSONField(default=list, blank=True)
    escalation_target = models.CharField(max_length=32, default="L2")
    escalation_checklist = models.JSONField(default=list, blank=True)
    steps = models.JSONField(default=list)
    suggest_when = models.JSONField(
        default=list,
        blank=True,
        help_text="Ranking rules: [{device_status | connector_state | recent_command | "
        "open_alert: [values], score}]; see diagnostics/data/runbooks.yaml.",
    )
    follows_command = models.CharField(
        max_length=40,
        blank=True,
        help_text="For a runbook about one command of the charger: that command's type "
        "(e.g. discharge). A run of it follows such a command.",
    )
    loaded_digest = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    CONTENT_FIELDS = (
        "title", "applicable_models", "symptom", "linked_fault_codes", "triggers",
        "escalation_target", "escalation_checklist", "steps", "suggest_when", "follows_command",
    )  # fmt: skip

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.title

    def content(self) -> dict:
        return {field: getattr(self, field) for field in self.CONTENT_FIELDS}

    def step(self, key: str) -> dict | None:
        return next((s for s in self.steps if s["key"] == key), None)

    def next_step_key(self, key: str) -> str | None:
        keys = [s["key"] for s in self.steps]
        index = keys.index(key)
        return keys[index + 1] if index + 1 < len(keys) else None


UNFINISHED_STATUSES = ("open", "paused")


class RunbookExecution(models.Model):
    """One engineer's run of a runbook on a device. The run, its step results and its
    escalation belong to the operator that owned the device when the run started: they
    stay that operator's when the device moves to another one."""

    class Status(models.TextChoices):
        OPEN = "open"
        PAUSED = "paused"
        RESOLVED = "resolved"
        # The cause is known and the fix is an action still to be carried out (e.g. a
        # firmware rollout, in outcome_action); a later run verifies it.
        DIAGNOSED = "diagnosed"
        ESCALATED = "escalated"
        CLOSED = "closed"

    run_id = models.CharField(max_length=40, unique=True, default=new_run_id, editable=False)
    device = models.ForeignKey(
        "fleet.Device", on_delete=models.CASCADE, related_name="runbook_runs"
    )
    # Whose run it is: the device's operator when it started (None: a device on no site).
    operator = models.ForeignKey(
        "fleet.Operator",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="runbook_runs",
        db_index=False,  # run_operator_recent serves it
    )
    runbook = models.ForeignKey(Runbook, on_delete=models.PROTECT, related_name="executions")
    connector_id = models.PositiveSmallIntegerField(null=True, blank=True)
    command_id = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    current_step = models.CharField(max_length=80, blank=True)
    outcome_note = models.TextField(blank=True)
    # What a diagnosed run leaves to do: {kind, text, ...} (engine.diagnose_action).
    outcome_action = models.JSONField(null=True, blank=True)
    escalation = models.JSONField(null=True, blank=True)
    # Each move the engine made: {step, action, to, why, by, at}, oldest first.
    moves = models.JSONField(default=list, blank=True)
    started_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["device", "-created_at"], name="run_device_recent"),
            models.Index(fields=["operator", "-created_at"], name="run_operator_recent"),
        ]
        constraints = [
            # One unfinished (open or paused) run of a runbook per device.
            models.UniqueConstraint(
                fields=["device", "runbook"],
                condition=models.Q(status__in=UNFINISHED_STATUSES),
                name="run_one_unfinished",
            )
        ]

    def __str__(self) -> str:
        return f"{self.runbook_id} on {self.device_id} ({self.status})"

    def context(self) -> dict:
        return {"$connector_id": self.connector_id, "$command_id": self.command_id}


class StepResult(models.Model):
    class Outcome(models.TextChoices):
        VERIFIED = "verified"
        FAILED = "failed"
        UNKNOWN = "unknown"
        # The check verifies an action (a reboot, a start, a fix) that has not been carried
        # out, or not long enough ago: no verdict yet.
        WAITING = "waiting"
        MANUAL = "done_manually"
        SKIPPED = "skipped"

    execution = models.ForeignKey(
        RunbookExecution, on_delete=models.CASCADE, related_name="results"
    )
    step_key = models.CharField(max_length=80)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    evidence = models.JSONField(null=True, blank=True)
    choice = models.CharField(max_length=80, blank=True)
    note = models.TextField(blank=True)
    by = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.step_key}: {self.outcome}"


class Alert(models.Model):
    """A detection needing attention: opened or refreshed by a detector (one open alert
    per detector and subject), then acknowledged, resolved or dismissed by people.

    An alert covers facts (fault events, telemetry samples, devices, commands: whatever
    its detector counts) timed from `window_start` on and received after
    `facts_received_after`. Closing it covers every fact received until `closed_at`; only
    facts received later can open a new alert for the subject, and not before
    `snoozed_until`."""

    class Severity(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"
        CRITICAL = "critical"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"
        DISMISSED = "dismissed"

    ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)
    CLOSED = (Status.RESOLVED, Status.DISMISSED)
    TRANSITIONS = {
        Status.OPEN: {Status.ACKNOWLEDGED, Status.RESOLVED, Status.DISMISSED},
        Status.ACKNOWLEDGED: {Status.RESOLVED, Status.DISMISSED},
        Status.RESOLVED: set(),
        Status.DISMISSED: set(),
    }

    alert_id = models.CharField(max_length=40, primary_key=True)
    operator = models.ForeignKey("fleet.Operator", on_delete=models.CASCADE, related_name="alerts")
    device = models.ForeignKey(
        "fleet.Device", on_delete=models.CASCADE, null=True, blank=True, related_name="alerts"
    )
    site = models.ForeignKey(
        "fleet.Site", on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts"
    )
    detector = models.CharField(max_length=40)
    subject = models.CharField(max_length=120, help_text="What the detection is about.")
    fault_code = models.CharField(max_length=32, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    title = models.CharField(max_length=200)
    evidence = models.JSONField(default=dict)
    suggested_runbook = models.CharField(max_length=80, blank=True)
    fact_count = models.PositiveIntegerField(
        default=1, help_text="Distinct facts covered (events, samples, devices, commands)."
    )
    first_seen = models.DateTimeField(help_text="Time of the oldest fact covered.")
    last_seen = models.DateTimeField(help_text="Time of the newest fact covered.")
    window_start = models.DateTimeField(help_text="Facts timed before this are not covered.")
    facts_received_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Facts received up to this belong to the subject's previous, closed alert.",
    )
    previous = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recurrences",
        help_text="The subject's previous alert, closed before this one opened.",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(
        null=True, blank=True, help_text="Dismissed with a snooze: no new alert before this."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen"]
        indexes = [
            models.Index(fields=["operator", "status", "-last_seen"], name="alert_operator_status"),
            models.Index(fields=["detector", "subject", "status"], name="alert_dedupe"),
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.title} ({self.status})"


class AlertTransition(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16)
    to_status = models.CharField(max_length=16)
    note = models.TextField(blank=True)
    by = models.CharField(max_length=150)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id}: {self.from_status} → {self.to_status}"
