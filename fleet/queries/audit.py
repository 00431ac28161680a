"""An operator's audit trail."""

from datetime import datetime

from django.db.models import QuerySet

from fleet.models import AuditEntry


def audit_entries(
    operator_id: str,
    *,
    actor: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """Entries in the operator's trail, newest first; `since` is inclusive."""
    queryset = AuditEntry.objects.filter(operator_id=operator_id)
    if actor:
        queryset = queryset.filter(actor=actor)
    if resource_type:
        queryset = queryset.filter(resource_type=resource_type)
    if resource_id:
        queryset = queryset.filter(resource_id=resource_id)
    if action:
        queryset = queryset.filter(action=action)
    if since:
        queryset = queryset.filter(at__gte=since)
    return queryset.order_by("-at", "-id")
