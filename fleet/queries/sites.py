"""An operator's sites, with their live connector aggregates."""

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, QuerySet

from fleet.models import Connector, ConnectorState, Site
from fleet.services.tenancy import sites_of

# How detailed connector states fold into the spec's three summary keys (decision: site-status).
SUMMARY_FOLD = {
    ConnectorState.IDLE: "idle",
    ConnectorState.PREPARING: "charging",
    ConnectorState.CHARGING: "charging",
    ConnectorState.DISCHARGING: "charging",
    ConnectorState.FAULT: "fault",
    ConnectorState.UNAVAILABLE: "fault",
}


@dataclass
class SiteSummary:
    site: Site
    total_connectors: int = 0
    by_state: dict[str, int] = field(default_factory=dict)

    def status_summary(self) -> dict[str, int]:
        summary = {"idle": 0, "charging": 0, "fault": 0}
        for state, count in self.by_state.items():
            summary[SUMMARY_FOLD.get(state, "fault")] += count
        for extra in ("discharging", "preparing", "unavailable"):
            summary[extra] = self.by_state.get(extra, 0)
        return summary


def sites(operator_id: str, *, status: str | None = None) -> QuerySet[Site]:
    """The operator's sites, oldest first."""
    queryset = sites_of(operator_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("created_at", "site_id")


def summarise_sites(sites: list[Site]) -> list[SiteSummary]:
    """Attach connector counts to sites with one aggregate query for all of them."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        Connector.objects.filter(device__site__in=[s.site_id for s in sites])
        .values_list("device__site_id", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for site_id, state, n in rows:
        counts[site_id][state] = n
    return [
        SiteSummary(site, sum(counts[site.site_id].values()), dict(counts[site.site_id]))
        for site in sites
    ]
