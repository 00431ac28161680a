"""One state of health for a charger, derived from facts, for a whole queryset at once.

The rule (docs/console.md, "Health of a charger"; the console says it beside every table):

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

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
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


def active_alerts_of_charger() -> QuerySet[Alert]:
    """The outer charger's active alerts under its current operator: an alert its previous
    operator had open on it says nothing about it to the new one."""
    return Alert.objects.filter(
        device=OuterRef("pk"), operator_id=OuterRef("site__operator_id"), status__in=Alert.ACTIVE
    )


def active_alerts_worst_first() -> QuerySet[Alert]:
    """The outer charger's active alerts, most severe first, then the newest."""
    return (
        active_alerts_of_charger()
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


def is_faulted() -> Q:
    """The faulted rule as a condition: EXISTS, which the database answers with a
    semi-join or a hashed lookup rather than a count per charger."""
    in_fault = Connector.objects.filter(device=OuterRef("pk"), state=ConnectorState.FAULT)
    grave = active_alerts_of_charger().filter(severity__in=FAULTING_SEVERITIES)
    return reports_fault() | Exists(in_fault) | Exists(grave)


def is_degraded_alone() -> Q:
    """An active medium alert (faulted and offline come first: see `in_state`)."""
    medium = active_alerts_of_charger().filter(severity=Alert.Severity.MEDIUM)
    return Q(Exists(medium))


STATE_CONDITIONS = {
    FAULTED: lambda: is_faulted(),
    OFFLINE: lambda: ~is_faulted() & Q(status=Device.Status.OFFLINE),
    DEGRADED: lambda: ~is_faulted() & ~Q(status=Device.Status.OFFLINE) & is_degraded_alone(),
    HEALTHY: lambda: ~is_faulted() & ~Q(status=Device.Status.OFFLINE) & ~is_degraded_alone(),
}


def with_health_facts(queryset: QuerySet[Device], *, selected: bool = True) -> QuerySet[Device]:
    """Devices with `health` and `health_rank` (0 = faulted … 3 = healthy). Not
    `selected`, they are aliases: computed only where a sort uses them (a sort by serial
    then reads no alert at all)."""
    add = queryset.annotate if selected else queryset.alias
    faulted, degraded = is_faulted(), is_degraded_alone()
    return add(
        health=_state(faulted, degraded, as_rank=False),
        health_rank=_state(faulted, degraded, as_rank=True),
    )


def with_health(queryset: QuerySet[Device]) -> QuerySet[Device]:
    """`with_health_facts` and what a table shows beside the state: connectors in fault
    (`connectors_in_fault`), the top active alert (`top_alert_severity`, `top_alert_id`,
    `top_alert_title`), how many alerts are active (`active_alerts`),
    and the last fault code a charger event carried with its dictionary title
    (`last_fault_code`, `last_fault_at`, `last_fault_title`; the title is None for a code
    the dictionary does not know)."""
    top = active_alerts_worst_first()
    # Under the charger's current operator only: a charger handed over shows no fault of
    # its previous operator's time (fleet/models/stamps.py).
    last_fault = (
        DeviceEvent.objects.filter(device=OuterRef("pk"), operator_id=OuterRef("site__operator_id"))
        .exclude(fault_code="")
        .order_by("-timestamp", "-id")
    )
    active = active_alerts_of_charger()
    in_fault = Connector.objects.filter(device=OuterRef("pk"), state=ConnectorState.FAULT)
    queryset = with_health_facts(queryset).annotate(
        connectors_in_fault=counted(in_fault, "device"),
        top_alert_severity=Subquery(top.values("severity")[:1]),
        top_alert_id=Subquery(top.values("alert_id")[:1]),
        top_alert_title=Subquery(top.values("title")[:1]),
        active_alerts=counted(active, "device"),
        last_fault_code=Subquery(last_fault.values("fault_code")[:1]),
        last_fault_at=Subquery(last_fault.values("timestamp")[:1]),
    )
    title = FaultCode.objects.filter(code=OuterRef("last_fault_code")).values("title")
    return queryset.annotate(last_fault_title=Subquery(title[:1]))


def in_state(queryset: QuerySet[Device], state: str | None) -> QuerySet[Device]:
    """Devices in one state (the rule as conditions, which the database answers without
    computing each charger's state); no state keeps them all."""
    return queryset.filter(STATE_CONDITIONS[state]()) if state in STATE_CONDITIONS else queryset


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
    """How many of the devices are in each state, and how many are online: one query
    reading each charger's state and connectivity once (grouping by the state in SQL
    would compute it twice a row), counted here."""
    pairs = Counter(with_health_facts(devices.order_by()).values_list("health", "status"))
    counts = dict.fromkeys(("total", "online", *STATES), 0)
    for (state, status), n in pairs.items():
        counts[state] += n
        counts["total"] += n
        if status == Device.Status.ONLINE:
            counts["online"] += n
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
    alerts and its last fault: five queries at most."""
    row = with_health_facts(Device.objects.filter(pk=device.pk)).values("health").first()
    owner = device.site.operator_id if device.site_id else None
    alerts = list(
        Alert.objects.filter(device=device, operator_id=owner, status__in=Alert.ACTIVE)
        .annotate(rank=severity_rank())
        .order_by("-rank", "-last_seen", "alert_id")[:MAX_BANNER_ALERTS]
    )
    in_fault = list(
        Connector.objects.filter(device=device, state=ConnectorState.FAULT)
        .order_by("connector_id")
        .values_list("connector_id", flat=True)
    )
    last_fault = (
        DeviceEvent.objects.filter(device=device, operator_id=owner)
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
}  # attributes of the rows of `site_rows`
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
    queryset = with_health_facts(device_queries.devices(operator_id, **filters), selected=False)
    queryset = in_state(queryset, health).prefetch_related(None)
    return queryset.order_by(*ordering(sort, DEVICE_ORDER, DEFAULT_DEVICE_SORT, ("sn", "pk")))


def detailed(ids: list[str]) -> list[Device]:
    """These chargers (by id), in this order, with everything a table shows: their health
    (`with_health`), site and connectors; two queries for a page. A listing's sort and
    count read only what they need (`chargers`), its page's rows are then read here."""
    if not ids:
        return []
    rows = with_health(Device.objects.filter(pk__in=ids)).select_related("site")
    by_id = {row.pk: row for row in rows.prefetch_related("connectors")}
    for row in by_id.values():  # what each connector draws now: 0 kW unless power flows
        device_queries.power_now(
            row.connectors.all(), charger_offline=device_queries.fell_silent(row)
        )
    return [by_id[pk] for pk in ids if pk in by_id]


def detailed_in_chunks(ids: list[str], size: int) -> Iterator[Device]:
    """`detailed`, `size` chargers at a time, for an export of a whole listing."""
    for start in range(0, len(ids), size):
        yield from detailed(ids[start : start + size])


def site_rows(
    operator_id: str,
    *,
    search: str | None = None,
    status: str | None = None,
    health: str | None = None,
    sort: str | None = None,
) -> list[Site]:
    """The operator's sites, each with how many chargers it holds in all (`chargers`) and
    in each state (`faulted`, `offline`, `degraded`, `healthy`), its connectors in fault
    (`connectors_in_fault`) and the active alerts on it or its chargers (`active_alerts`);
    `search` matches part of the name, address or id; `health` keeps sites with at least
    one charger in that state; sorted by a SITE_ORDER key. Four queries, each charger's
    state computed once, whatever the number of sites (an operator has tens or hundreds,
    so they are counted, filtered and sorted here rather than by the database)."""
    queryset = operator_sites(operator_id, status=status)
    if search:
        queryset = queryset.filter(
            Q(name__icontains=search) | Q(address__icontains=search) | Q(site_id__icontains=search)
        )
    sites = list(queryset)
    states: dict[str, Counter] = defaultdict(Counter)
    placed = with_health_facts(Device.objects.filter(site__operator_id=operator_id).order_by())
    for (site_id, state), n in Counter(placed.values_list("site_id", "health")).items():
        states[site_id][state] += n
    in_fault = Counter(
        dict(
            Connector.objects.filter(
                device__site__operator_id=operator_id, state=ConnectorState.FAULT
            )
            .values_list("device__site_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
    )
    alerts = Counter(
        device_site or site
        for site, device_site in Alert.objects.filter(
            operator_id=operator_id, status__in=Alert.ACTIVE
        ).values_list("site_id", "device__site_id")
    )
    for site in sites:
        counts = states[site.site_id]
        site.chargers = sum(counts.values())
        for state in STATES:
            setattr(site, state, counts[state])
        site.connectors_in_fault = in_fault[site.site_id]
        site.active_alerts = alerts[site.site_id]
    if health in (FAULTED, OFFLINE, DEGRADED):
        sites = [site for site in sites if getattr(site, health)]
    return sorted_sites(sites, sort)


def sorted_sites(sites: list[Site], sort: str | None) -> list[Site]:
    """By a SITE_ORDER key ("key" or "-key", else by name), ties by name; missing values
    last in both directions."""
    key = (sort or "").lstrip("-")
    descending = bool(sort) and sort.startswith("-") and key in SITE_ORDER
    if key not in SITE_ORDER:
        key = DEFAULT_SITE_SORT
    field = SITE_ORDER[key]
    by_name = sorted(sites, key=lambda site: (site.name.lower(), site.pk))
    known = [site for site in by_name if getattr(site, field) is not None]
    missing = [site for site in by_name if getattr(site, field) is None]

    def value(site: Site):
        found = getattr(site, field)
        return found.lower() if isinstance(found, str) else found

    return sorted(known, key=value, reverse=descending) + missing
