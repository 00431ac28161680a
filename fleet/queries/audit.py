"""An operator's audit trail."""

from datetime import datetime

from django.db.models import QuerySet

from fleet.models import AuditEntry
from fleet.queries.filters import narrow


def audit_entries(
    operator_id: str,
    *,
    actor: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEntry]:
    """Entries in the operator's trail, newest first; `since` is inclusive, `until` not."""
    queryset = narrow(
        AuditEntry.objects.filter(operator_id=operator_id),
        actor=actor,
        resource_type=resource_type,
        resource_id=resource_id,
        action=action,
        at__gte=since,
        at__lt=until,
    )
    return queryset.order_by("-at", "-id")
