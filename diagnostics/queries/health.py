"""One state of health for a charger, derived from facts, for a whole queryset at once.

The rule (README "Health of a charger"; the console says it beside every table):

- **faulted**: a connector reports `fault`, or the charger's last heartbeat reported a
  fault (status `fault` or a fault code other than 0), or the charger has an active (open
  or acknowledged) alert of high or critical severity;
- **offline**: the platform has not heard a heartbeat within the offline grace (the
  liveness rule of fleet/services/liveness.py), and nothing above holds;
- **degraded**: an active alert of medium severity, and nothing above holds;
- **healthy**: none of these.

Faulted comes before offline because a charger that went silent while faulted is still a
faulted charger someone must go to; its connectivity is shown beside the state
everywhere. Low-severity alerts are shown, but leave a charger healthy.

Every figure is an annotation (subqueries and CASE), so a page of chargers, a sort or a
count over 10,000 of them is one query on SQLite and PostgreSQL alike."""

from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from diagnostics.models import Alert, FaultCode
from fleet.models import Connector, ConnectorState, Device, DeviceEvent, Site
from fleet.queries import devices as device_queries
from fleet.queries.sites import sites as operator_sites

FAULTED, OFFLINE, DEGRADED, HEALTHY = "faulted", "offline", "degraded", "healthy"
# Worst first: the order of the states on the page and of a sort by health.
STATES = (FAULTED, OFFLINE, DEGRADED, HEALTHY)
STATE_WORDS = {
    FAULTED: "Faulted",
    OFFLINE: "Offline",
    DEGRADED: "Degraded",
    HEALTHY: "Healthy",
}
STATE_MEANINGS = {
    FAULTED: "a connector or the charger reports a fault, or a high or critical alert is "
    "open on it",
    OFFLINE: "no heartbeat within the offline grace (and no fault known)",
    DEGRADED: "a medium alert is open on it",
    HEALTHY: "online, no fault reported and no open alert above low",
}
SEVERITY_RANK = {
    Alert.Severity.CRITICAL: 4,
    Alert.Severity.HIGH: 3,
    Alert.Severity.MEDIUM: 2,
    Alert.Severity.LOW: 1,
}
FAULTING_SEVERITIES = (Alert.Severity.CRITICAL, Alert.Severity.HIGH)


def reports_fault() -> Q:
    """The charger's own last word: a fault status or a fault code other than 0."""
    return Q(reported_status="fault") | (
        Q(reported_fault_code__isnull=False) & ~Q(reported_fault_code=0)
    )


def severity_rank() -> Case:
    return Case(
        *(When(severity=severity, then=Value(rank)) for severity, rank in SEVERITY_RANK.items()),
        default=Value(0),
        output_field=IntegerField(),
    )


def active_alerts_worst_first() -> QuerySet[Alert]:
    """The outer charger's active alerts, most severe first, then the newest."""
    return (
        Alert.objects.filter(device=OuterRef("pk"), status__in=Alert.ACTIVE)
        .annotate(rank=severity_rank())
        .order_by("-rank", "-last_seen", "alert_id")
    )


def counted(queryset: QuerySet, group: str) -> Coalesce:
    """How many rows of `queryset` (narrowed by an OuterRef) there are, as a subquery."""
    rows = queryset.order_by().values(group).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(rows[:1], output_field=IntegerField()), Value(0))


def _state(faulted: Q, degraded: Q, *, as_rank: bool) -> Case:
    def value(state: str) -> Value:
        return Value(STATES.index(state)) if as_rank else Value(state)

    return Case(
        When(faulted, then=value(FAULTED)),
        When(status=Device.Status.OFFLINE, then=value(OFFLINE)),
        When(degraded, then=value(DEGRADED)),
        default=value(HEALTHY),
        output_field=IntegerField() if as_rank else CharField(),
    )


def with_health_facts(queryset: QuerySet[Device]) -> QuerySet[Device]:
    """Devices with `health`, `health_rank` (0 = faulted … 3 = healthy),
    `connectors_in_fault` and `top_alert_severity`: what the state is computed from."""
    in_fault = Connector.objects.filter(device=OuterRef("pk"), state=ConnectorState.FAULT)
    queryset = queryset.annotate(
        connectors_in_fault=counted(in_fault, "device"),
        top_alert_severity=Subquery(active_alerts_worst_first().values("severity")[:1]),
    )
    faulted = (
        reports_fault()
        | Q(connectors_in_fault__gt=0)
        | Q(top_alert_severity__in=FAULTING_SEVERITIES)
    )
    degraded = Q(top_alert_severity=Alert.Severity.MEDIUM)
    return queryset.annotate(
        health=_state(faulted, degraded, as_rank=False),
        health_rank=_state(faulted, degraded, as_rank=True),
    )


def with_health(queryset: QuerySet[Device]) -> QuerySet[Device]:
    """`with_health_facts` and what a table shows beside the state: the top active alert
    (`top_alert_id`, `top_alert_title`), how many alerts are active (`active_alerts`),
    and the last fault code a charger event carried with its dictionary title
    (`last_fault_code`, `last_fault_at`, `last_fault_title`; the title is None for a code
    the dictionary does not know)."""
    top = active_alerts_worst_first()
    last_fault = (
        DeviceEvent.objects.filter(device=OuterRef("pk"))
        .exclude(fault_code="")
        .order_by("-timestamp", "-id")
    )
    active = Alert.objects.filter(device=OuterRef("pk"), status__in=Alert.ACTIVE)
    queryset = with_health_facts(queryset).annotate(
        top_alert_id=Subquery(top.values("alert_id")[:1]),
        top_alert_title=Subquery(top.values("title")[:1]),
        active_alerts=counted(active, "device"),
        last_fault_code=Subquery(last_fault.values("fault_code")[:1]),
        last_fault_at=Subquery(last_fault.values("timestamp")[:1]),
    )
    title = FaultCode.objects.filter(code=OuterRef("last_fault_code")).values("title")
    return queryset.annotate(last_fault_title=Subquery(title[:1]))


def in_state(queryset: QuerySet[Device], state: str | None) -> QuerySet[Device]:
    """Devices (annotated by `with_health_facts`) in one state; no state keeps them all."""
    return queryset.filter(health=state) if state else queryset


@dataclass(frozen=True)
class HealthCounts:
    total: int
    faulted: int
    offline: int
    degraded: int
    healthy: int
    online: int  # connectivity, apart from health: a faulted charger may be online

    def by_state(self) -> list[tuple[str, int]]:
        return [(state, getattr(self, state)) for state in STATES]


def health_counts(devices: QuerySet[Device]) -> HealthCounts:
    """How many of the devices are in each state, and how many are online: one query."""
    counts = with_health_facts(devices.order_by()).aggregate(
        total=Count("pk"),
        online=Count("pk", filter=Q(status=Device.Status.ONLINE)),
        **{state: Count("pk", filter=Q(health=state)) for state in STATES},
    )
    return HealthCounts(**counts)


@dataclass(frozen=True)
class DeviceHealth:
    """One charger's state and the facts behind it, for its page's header and banner."""

    state: str
    alerts: list[Alert]  # active, most severe first
    connectors_in_fault: list[int]
    reported_fault: bool
    last_fault: DeviceEvent | None
    last_fault_title: str

    @property
    def words(self) -> str:
        return STATE_WORDS[self.state]


MAX_BANNER_ALERTS = 10


def device_health(device: Device) -> DeviceHealth:
    """The state of one charger (by the same annotations as every table) with its active
    alerts and its last fault: four queries."""
    row = with_health_facts(Device.objects.filter(pk=device.pk)).values("health").first()
    alerts = list(
        Alert.objects.filter(device=device, status__in=Alert.ACTIVE)
        .annotate(rank=severity_rank())
        .order_by("-rank", "-last_seen", "alert_id")[:MAX_BANNER_ALERTS]
    )
    in_fault = list(
        Connector.objects.filter(device=device, state=ConnectorState.FAULT)
        .order_by("connector_id")
        .values_list("connector_id", flat=True)
    )
    last_fault = (
        DeviceEvent.objects.filter(device=device)
        .exclude(fault_code="")
        .order_by("-timestamp", "-id")
        .first()
    )
    title = ""
    if last_fault is not None:
        title = (
            FaultCode.objects.filter(code=last_fault.fault_code)
            .values_list("title", flat=True)
            .first()
            or ""
        )
    reported = device.reported_status == "fault" or bool(device.reported_fault_code)
    return DeviceHealth(
        state=row["health"] if row else HEALTHY,
        alerts=alerts,
        connectors_in_fault=in_fault,
        reported_fault=reported,
        last_fault=last_fault,
        last_fault_title=title,
    )


def with_site_health(queryset: QuerySet[Site]) -> QuerySet[Site]:
    """Sites with how many chargers they hold in all (`chargers`) and in each state
    (`faulted`, `offline`, `degraded`), connectors in fault (`connectors_in_fault`) and
    active alerts on the site or its chargers (`active_alerts`): one query."""
    placed = Device.objects.filter(site=OuterRef("pk"))
    annotations = {"chargers": counted(placed, "site")}
    for state in (FAULTED, OFFLINE, DEGRADED):
        annotations[state] = counted(
            with_health_facts(Device.objects.filter(site=OuterRef("pk"))).filter(health=state),
            "site",
        )
    in_fault = Connector.objects.filter(device__site=OuterRef("pk"), state=ConnectorState.FAULT)
    annotations["connectors_in_fault"] = counted(in_fault, "device__site")
    active = Alert.objects.filter(
        Q(site=OuterRef("pk")) | Q(device__site=OuterRef("pk")), status__in=Alert.ACTIVE
    )
    # All of a site's alerts belong to its operator: grouping by it counts them.
    annotations["active_alerts"] = counted(active, "operator")
    return queryset.annotate(**annotations)


# A list's sort keys, each the columns it orders by (then a unique tie-break), so a page
# never shows a row twice or skips one. Missing values sort last in both directions.
DEVICE_ORDER = {
    "health": "health_rank",
    "serial": "sn",
    "site": "site__name",
    "model": "model",
    "firmware": "firmware_version",
    "heartbeat": "last_heartbeat",
}
DEFAULT_DEVICE_SORT = "health"
SITE_ORDER = {
    "name": "name",
    "status": "status",
    "chargers": "chargers",
    "faulted": "faulted",
    "offline": "offline",
    "degraded": "degraded",
    "alerts": "active_alerts",
    "capacity": "power_capacity",
}
DEFAULT_SITE_SORT = "name"


def ordering(sort: str | None, columns: dict[str, str], default: str, tie: tuple[str, ...]):
    """order_by() arguments for `sort` ("key" or "-key"; anything else is the default)."""
    key = (sort or "").lstrip("-")
    descending = bool(sort) and sort.startswith("-")
    if key not in columns:
        key, descending = default, False
    column = F(columns[key])
    first = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
    return [first, *tie]


def chargers(
    operator_id: str,
    *,
    health: str | None = None,
    sort: str | None = None,
    **filters,
) -> QuerySet[Device]:
    """The operator's chargers (`fleet.queries.devices.devices` filters: site_id, status,
    model, firmware_version, search) with their health, in one state if `health` is given,
    sorted by a DEVICE_ORDER key (worst health first by default). A site id not of this
    operator raises NotFound, like the fleet query."""
    queryset = with_health(device_queries.devices(operator_id, **filters).select_related("site"))
    queryset = in_state(queryset, health)
    return queryset.order_by(*ordering(sort, DEVICE_ORDER, DEFAULT_DEVICE_SORT, ("sn", "pk")))


def site_rows(
    operator_id: str,
    *,
    search: str | None = None,
    status: str | None = None,
    health: str | None = None,
    sort: str | None = None,
) -> QuerySet[Site]:
    """The operator's sites with their chargers' health (`with_site_health`); `search`
    matches part of the name, address or id; `health` keeps sites with at least one
    charger in that state."""
    queryset = with_site_health(operator_sites(operator_id, status=status))
    if search:
        queryset = queryset.filter(
            Q(name__icontains=search) | Q(address__icontains=search) | Q(site_id__icontains=search)
        )
    if health in (FAULTED, OFFLINE, DEGRADED):
        queryset = queryset.filter(**{f"{health}__gt": 0})
    return queryset.order_by(*ordering(sort, SITE_ORDER, DEFAULT_SITE_SORT, ("name", "pk")))
