"""The diagnostic runbooks, shared by every operator, and the runs of them on an
operator's chargers."""

from django.db.models import QuerySet

from diagnostics.models import Runbook, RunbookExecution


def runbooks() -> QuerySet[Runbook]:
    """Every runbook by slug."""
    return Runbook.objects.order_by("slug")


def runs(
    operator_id: str | None, device_id: str | None = None, status: str | None = None
) -> QuerySet[RunbookExecution]:
    """Runs on the operator's chargers, newest first; a foreign device id matches nothing."""
    if not operator_id:
        return RunbookExecution.objects.none()
    queryset = RunbookExecution.objects.filter(device__site__operator_id=operator_id)
    if device_id:
        queryset = queryset.filter(device_id=device_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.select_related("runbook", "device").order_by("-created_at", "-id")
