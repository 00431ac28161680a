from django.db import models


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
    thresholds = models.JSONField(default=dict, blank=True)
    loaded_digest = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    CONTENT_FIELDS = (
        "title", "severity", "category", "source", "description", "symptoms", "likely_causes",
        "diagnostic_steps", "related_telemetry", "related_commands", "known_firmware_issues",
        "thresholds",
    )  # fmt: skip

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def content(self) -> dict:
        return {field: getattr(self, field) for field in self.CONTENT_FIELDS}
