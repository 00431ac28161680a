from django.db import models


class AuditEntry(models.Model):
    """Who did what to which resource, from where, and when (docs/diagnostics.md, Audit log).

    `before` and `after` hold only the fields a change touched (a creation has no
    `before`, a deletion no `after`); secrets and hashes never appear in either.
    """

    # The trail outlives its operator: deleting one leaves its entries platform-wide.
    operator = models.ForeignKey(
        "fleet.Operator", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit"
    )
    actor = models.CharField(
        max_length=150, help_text="client:<id>, user:<name>, cli:<os user> or platform"
    )
    action = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=32)
    resource_id = models.CharField(max_length=80)
    details = models.JSONField(default=dict, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        # The console's audit page filters one operator's trail by each of these, newest
        # first: each filter reads its own index in order instead of the whole trail.
        indexes = [
            models.Index(fields=["operator", "-at"], name="audit_operator_time"),
            models.Index(fields=["operator", "actor", "-at"], name="audit_operator_actor_time"),
            models.Index(fields=["operator", "action", "-at"], name="audit_operator_action_time"),
            models.Index(
                fields=["operator", "resource_type", "-at"], name="audit_operator_type_time"
            ),
            models.Index(
                fields=["operator", "resource_id", "-at"], name="audit_operator_subject_time"
            ),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.resource_type}:{self.resource_id}"
