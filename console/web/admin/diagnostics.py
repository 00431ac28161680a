"""The diagnostics dictionary (fault codes, runbooks), runbook runs and alerts in the
admin, audited like every other admin change."""

from django.contrib import admin

from console.web.admin.audited import AuditedAdmin
from diagnostics.admin_forms import FaultCodeForm, RunbookForm
from diagnostics.models import (
    Alert,
    AlertTransition,
    FaultCode,
    Runbook,
    RunbookExecution,
    StepResult,
)


@admin.register(FaultCode)
class FaultCodeAdmin(AuditedAdmin):
    form = FaultCodeForm
    list_display = ["code", "title", "severity", "category", "source", "updated_at"]
    list_filter = ["severity", "category", "source"]
    search_fields = ["code", "title", "description"]
    readonly_fields = ["loaded_digest", "updated_at"]


@admin.register(Runbook)
class RunbookAdmin(AuditedAdmin):
    form = RunbookForm
    list_display = ["slug", "title", "escalation_target", "updated_at"]
    readonly_fields = ["loaded_digest", "updated_at"]


class StepResultInline(admin.TabularInline):
    model = StepResult
    extra = 0
    readonly_fields = ["step_key", "outcome", "evidence", "choice", "note", "by", "at"]


@admin.register(RunbookExecution)
class RunbookExecutionAdmin(AuditedAdmin):
    list_display = [
        "id", "runbook", "device", "operator", "status", "current_step", "started_by",
        "created_at",
    ]  # fmt: skip
    list_filter = ["status", "runbook"]
    raw_id_fields = ["device", "operator"]
    inlines = [StepResultInline]


class AlertTransitionInline(admin.TabularInline):
    model = AlertTransition
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(AuditedAdmin):
    """Read-only here: an alert moves through its lifecycle by the API or the console,
    which record who moved it (diagnostics.services.alerts.transition)."""

    list_display = [
        "alert_id",
        "severity",
        "status",
        "detector",
        "fault_code",
        "device",
        "site",
        "fact_count",
        "last_seen",
    ]
    list_filter = ["status", "severity", "detector"]
    search_fields = ["alert_id", "subject", "fault_code", "device__device_id", "title"]
    date_hierarchy = "last_seen"
    inlines = [AlertTransitionInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
