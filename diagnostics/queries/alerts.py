"""An operator's alerts."""

from collections.abc import Collection
from datetime import datetime

from django.db.models import QuerySet

from diagnostics.models import Alert
from fleet.queries.filters import narrow


def alerts(
    operator_id: str,
    *,
    device_id: str | None = None,
    site_id: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    statuses: Collection[str] | None = None,
    since: datetime | None = None,
) -> QuerySet[Alert]:
    """The operator's alerts, newest detection first; `since` filters on the last
    detection, `statuses` keeps any of several (e.g. Alert.ACTIVE). Device and site ids
    only narrow: a foreign one matches nothing."""
    queryset = narrow(
        Alert.objects.filter(operator_id=operator_id),
        device_id=device_id,
        site_id=site_id,
        severity=severity,
        status=status,
        status__in=statuses,
        last_seen__gte=since,
    )
    return queryset.order_by("-last_seen", "alert_id")
