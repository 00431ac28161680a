"""An operator's alerts."""

from collections.abc import Collection
from datetime import datetime

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When

from diagnostics.models import Alert
from fleet.queries.filters import narrow

# Most severe first: the order people work an inbox in.
SEVERITY_RANK = {
    Alert.Severity.CRITICAL: 0,
    Alert.Severity.HIGH: 1,
    Alert.Severity.MEDIUM: 2,
    Alert.Severity.LOW: 3,
}


def alerts(
    operator_id: str,
    *,
    device_id: str | None = None,
    site_id: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    statuses: Collection[str] | None = None,
    since: datetime | None = None,
    detector: str | None = None,
    fault_code: str | None = None,
    charger: str | None = None,
) -> QuerySet[Alert]:
    """The operator's alerts, newest detection first; `since` filters on the last
    detection, `statuses` keeps any of several (e.g. Alert.ACTIVE), `charger` is a
    charger's serial number or its device id. Device and site ids only narrow: a foreign
    one matches nothing."""
    queryset = narrow(
        Alert.objects.filter(operator_id=operator_id),
        device_id=device_id,
        site_id=site_id,
        severity=severity,
        status=status,
        status__in=statuses,
        last_seen__gte=since,
        detector=detector,
        fault_code=fault_code,
    )
    if charger:
        queryset = queryset.filter(Q(device_id=charger) | Q(device__sn=charger))
    return queryset.order_by("-last_seen", "alert_id")


def most_severe_first(queryset: QuerySet[Alert]) -> QuerySet[Alert]:
    """Critical, high, medium, low; within a severity the latest detection first."""
    rank = Case(
        *(When(severity=severity, then=Value(n)) for severity, n in SEVERITY_RANK.items()),
        default=Value(len(SEVERITY_RANK)),
        output_field=IntegerField(),
    )
    return queryset.order_by(rank, "-last_seen", "alert_id")
