"""The diagnostic runbooks, shared by every operator, and the runs of them on an
operator's chargers."""

from collections.abc import Collection

from django.db.models import Q, QuerySet

from diagnostics.models import Runbook, RunbookExecution
from diagnostics.services.runbooks import UNFINISHED


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


def unfinished_runs(
    operator_id: str | None, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], RunbookExecution]:
    """The latest unfinished (open or paused) run of each (device id, runbook slug) asked
    for, on the operator's chargers, in one query; pairs with none are absent."""
    if not operator_id or not pairs:
        return {}
    wanted = Q()
    for device_id, slug in pairs:
        wanted |= Q(device_id=device_id, runbook_id=slug)
    queryset = (
        runs(operator_id)
        .filter(wanted, status__in=UNFINISHED)
        .order_by("created_at", "id")  # the latest last, so it wins below
    )
    return {(run.device_id, run.runbook_id): run for run in queryset}
