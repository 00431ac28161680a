"""An operator's fleet at a glance: chargers by state of health, open alerts by severity,
its sites' connector summaries and the latest faults. A fixed number of queries, whatever
the size."""

from dataclasses import dataclass

from django.db.models import Count

from diagnostics.models import Alert
from diagnostics.queries.faults import fault_titles
from diagnostics.queries.health import HealthCounts, health_counts
from fleet.models import DeviceEvent
from fleet.queries.sites import SiteSummary, sites, summarise_sites
from fleet.services.tenancy import devices_of

SEVERITIES = [
    Alert.Severity.CRITICAL,
    Alert.Severity.HIGH,
    Alert.Severity.MEDIUM,
    Alert.Severity.LOW,
]


@dataclass(frozen=True)
class FleetOverview:
    devices: HealthCounts
    open_alerts: list[tuple[str, int]]  # (severity, count), most severe first
    sites: list[SiteSummary]
    recent_faults: list[DeviceEvent]


def device_counts(operator_id: str) -> HealthCounts:
    """The operator's chargers by state of health (diagnostics/queries/health.py)."""
    return health_counts(devices_of(operator_id))


def open_alerts_by_severity(operator_id: str) -> list[tuple[str, int]]:
    """Active (open or acknowledged) alerts per severity, every severity listed."""
    rows = dict(
        Alert.objects.filter(operator_id=operator_id, status__in=Alert.ACTIVE)
        .values_list("severity")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [(severity, rows.get(severity, 0)) for severity in SEVERITIES]


def recent_faults(operator_id: str, limit: int = 8) -> list[DeviceEvent]:
    """The newest events that carried a fault code under the operator (its chargers', and
    those of chargers it has since handed over from while they were its own), each with
    `fault_title` from the fault dictionary ("" for an undocumented code) and `in_fleet`
    (whether the charger is still the operator's, so its page may be linked)."""
    events = list(
        DeviceEvent.objects.filter(operator_id=operator_id)
        .exclude(fault_code="")
        .select_related("device__site")
        .order_by("-timestamp", "-id")[:limit]
    )
    titles = fault_titles(events)
    for event in events:
        event.fault_title = titles.get(event.fault_code, "")
        site = event.device.site
        event.in_fleet = site is not None and site.operator_id == operator_id
    return events


def fleet_overview(operator_id: str, *, site_limit: int = 12) -> FleetOverview:
    """The overview page's figures: `site_limit` sites (most connectors in fault first)."""
    summaries = summarise_sites(list(sites(operator_id)))
    summaries.sort(key=lambda s: (-s.status_summary()["fault"], s.site.name))
    return FleetOverview(
        devices=device_counts(operator_id),
        open_alerts=open_alerts_by_severity(operator_id),
        sites=summaries[:site_limit],
        recent_faults=recent_faults(operator_id),
    )
