"""The diagnostic runbooks, shared by every operator, and an operator's runs of them."""

from collections.abc import Collection

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet

from diagnostics.models import Runbook, RunbookExecution
from diagnostics.services.runbooks.runs import UNFINISHED


def runbooks() -> QuerySet[Runbook]:
    """Every runbook by slug."""
    return Runbook.objects.order_by("slug")


def runs(
    operator_id: str | None, device_id: str | None = None, status: str | None = None
) -> QuerySet[RunbookExecution]:
    """The operator's runs, newest first: those started while the charger was theirs, also
    on a charger that has since moved to another operator (`in_fleet` tells whether the
    charger is still theirs). A device id the operator has no run on matches nothing."""
    if not operator_id:
        return RunbookExecution.objects.none()
    queryset = RunbookExecution.objects.filter(operator_id=operator_id)
    if device_id:
        queryset = queryset.filter(device_id=device_id)
    if status:
        queryset = queryset.filter(status=status)
    return (
        queryset.select_related("runbook", "device")
        .annotate(
            in_fleet=ExpressionWrapper(
                Q(device__site__operator_id=operator_id), output_field=BooleanField()
            )
        )
        .order_by("-created_at", "-id")
    )


def unfinished_runs(
    operator_id: str | None, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], RunbookExecution]:
    """The latest unfinished (open or paused) run of each (device id, runbook slug) asked
    for, of the operator's runs, in one query; pairs with none are absent."""
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
