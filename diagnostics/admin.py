from django.contrib import admin

from diagnostics.models import FaultCode, Runbook, RunbookExecution, StepResult
from fleet.admin import AuditedAdmin


@admin.register(FaultCode)
class FaultCodeAdmin(AuditedAdmin):
    list_display = ["code", "title", "severity", "category", "source", "updated_at"]
    list_filter = ["severity", "category", "source"]
    search_fields = ["code", "title", "description"]
    readonly_fields = ["loaded_digest", "updated_at"]


@admin.register(Runbook)
class RunbookAdmin(AuditedAdmin):
    list_display = ["slug", "title", "escalation_target", "updated_at"]
    readonly_fields = ["loaded_digest", "updated_at"]


class StepResultInline(admin.TabularInline):
    model = StepResult
    extra = 0
    readonly_fields = ["step_key", "outcome", "evidence", "choice", "note", "by", "at"]


@admin.register(RunbookExecution)
class RunbookExecutionAdmin(AuditedAdmin):
    list_display = ["id", "runbook", "device", "status", "current_step", "started_by", "created_at"]
    list_filter = ["status", "runbook"]
    raw_id_fields = ["device"]
    inlines = [StepResultInline]
