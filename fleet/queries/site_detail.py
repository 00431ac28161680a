"""One site in detail: what its chargers draw together, how many there are, and the
flexibility controls sent to it. Each is one bounded query, whatever the site's size."""

from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from fleet.models import Connector, Control, Device, Site
from fleet.queries.devices import FLOWING_STATES


@dataclass(frozen=True)
class SiteTotals:
    chargers: int
    rated_kw: float | None  # None unless every charger's rated power is known
    power_kw: float  # the sum of the power of the connectors charging or discharging
    connectors_reporting: int


def site_totals(site: Site) -> SiteTotals:
    """Charger count, their rated power and the power their connectors draw now: the last
    reported power of those charging or discharging (an idle, preparing or faulted
    connector draws nothing, whatever it last reported)."""
    chargers = Device.objects.filter(site=site).aggregate(
        n=Count("pk"),
        rated=Sum("rated_power_kw"),
        unrated=Count("pk", filter=Q(rated_power_kw__isnull=True)),
    )
    power = Connector.objects.filter(device__site=site).aggregate(
        kw=Sum("power", filter=Q(state__in=FLOWING_STATES)), reporting=Count("power")
    )
    known = chargers["n"] and not chargers["unrated"]
    return SiteTotals(
        chargers=chargers["n"],
        rated_kw=float(chargers["rated"]) if known else None,
        power_kw=power["kw"] or 0.0,
        connectors_reporting=power["reporting"],
    )


def site_controls(operator_id: str, site_id: str, limit: int = 5) -> list[Control]:
    """The operator's newest site controls that name this site, newest first.

    `target_ids` is a JSON list and SQLite has no JSON containment, so the database
    narrows by the quoted id in the list's text and the list itself decides."""
    candidates = (
        Control.objects.filter(
            operator_id=operator_id, target_type="site", target_ids__icontains=f'"{site_id}"'
        )
        .select_related("issued_by_user", "issued_by_client")
        .order_by("-created_at")[: limit * 2]
    )
    return [control for control in candidates if site_id in control.target_ids][:limit]
