"""Charging records (page and CSV export) and energy per site: the API's query and
service, scoped to the operator, behind the same filters."""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from console.web.access import ConsoleAccess, console_view
from console.web.bar_charts import BarChart, bar_chart
from console.web.csv_export import (
    EXPORT_CHUNK,
    csv_chunks,
    json_cell,
    refused_export,
    streamed_csv,
    utc_iso,
)
from console.web.forms.records import PAGE_SIZE, EnergyForm, RecordFilterForm
from console.web.tables import (
    Column,
    Filter,
    ListPage,
    chosen_charger,
    filtered_table,
    list_context,
    render_list,
    shown_charger,
    wants_fragment,
    with_charger,
)
from fleet.errors import NotFound, TellusError
from fleet.models import ChargingRecord, Device, Site
from fleet.queries.records import charging_records
from fleet.queries.sites import sites
from fleet.services.energy import aggregated_energy, bucket_label, buckets

CSV_HEADER = [
    "record_id", "device_id", "device_sn", "site_id", "site_name", "connector_id",
    "start_time_utc", "end_time_utc", "energy_kwh", "max_power_kw", "avg_power_kw", "cost",
    "meter_start_kwh", "meter_end_kwh", "stop_reason", "vehicle_info", "details",
]  # fmt: skip


# --- Records ---------------------------------------------------------------------------------


RECORDS = ListPage(
    url="console:records",
    template="console/records/list.html",
    target="record-table",
    noun="record",
    label="Charging records table",
    columns=(
        Column("Started", cell="started"),
        Column("Ended", cell="ended"),
        Column("Charger", cell="charger"),
        Column("Connector", attr="connector_id"),
        Column("Energy", cell="energy"),
        Column("Max power", cell="max-power"),
        Column("Average power", cell="average-power"),
        Column("Cost", cell="cost"),
        Column("Stop reason", cell="stop-reason"),
    ),
    filters=(
        Filter("device", "Charger (serial or id)", placeholder="serial or dvc_…", live="input"),
        Filter(
            "connector",
            "Connector",
            kind="number",
            css="narrow-number",
            attrs=(("min", "1"), ("max", "255")),
        ),
        Filter("start", "Started from", kind="datetime-local", zoned=True),
        Filter("end", "Started before", kind="datetime-local", zoned=True),
    ),
    csv="console:records-csv",
    csv_note="every record these filters select",
    no_match="Check the charger, clear the connector or widen the time window.",
)


@console_view()
def record_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The filtered, paged record table; an HTMX request gets the table alone."""
    form = RecordFilterForm(request.GET)
    charger = chosen_charger(access.operator_id, form)
    table = filtered_table(form, lambda: filtered_records(access, form, charger), PAGE_SIZE)
    table["chosen_charger"] = charger
    context = list_context(RECORDS, form, table, shown=shown_charger(charger))
    return render_list(request, RECORDS, context)


def filtered_records(
    access: ConsoleAccess, form: RecordFilterForm, charger: Device | None = None
) -> QuerySet[ChargingRecord]:
    """What the filters select, the same for the page and its CSV (call after is_valid);
    the charger may be given by its id or its serial number (`charger`, if already read)."""
    charger = charger or chosen_charger(access.operator_id, form)
    filters = with_charger(form.query_filters(), charger)
    try:
        queryset = charging_records(access.operator_id, **filters)
    except NotFound:  # a device id not of this operator: nothing matches, nothing is told
        return ChargingRecord.objects.none()
    # The site a record was uploaded under (its stamp), and the charger's site now (to
    # link only to chargers still in the operator's fleet).
    return queryset.select_related("site", "device__site")


@console_view()
def records_csv(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Every record the page's filters select, streamed as CSV (no page limit)."""
    form = RecordFilterForm(request.GET)
    if not form.is_valid():
        return refused_export(form)
    records = filtered_records(access, form).iterator(chunk_size=EXPORT_CHUNK)
    filename = f"charging-records-{timezone.now():%Y-%m-%d}.csv"
    return streamed_csv(request, record_chunks(records), filename)


def csv_row(record: ChargingRecord) -> list[object]:
    device = record.device
    return [
        record.record_id, device.device_id, device.sn, record.site_id or "",
        record.site.name if record.site else "",
        record.connector_id, utc_iso(record.start_time), utc_iso(record.end_time),
        record.energy, record.max_power, record.avg_power,
        "" if record.cost is None else record.cost,
        record.meter_start, record.meter_end, record.stop_reason,
        json_cell(record.vehicle_info), json_cell(record.details),
    ]  # fmt: skip


def record_chunks(records: Iterable[ChargingRecord]) -> Iterator[str]:
    return csv_chunks(CSV_HEADER, (csv_row(record) for record in records))


# --- Energy ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteEnergy:
    """One site's chart, its points as the energy service returned them, and its totals."""

    site_id: str
    name: str
    chart: BarChart
    points: list[dict]
    charge: float
    discharge: float
    max_power: float


def tick_label(granularity: str) -> Callable[[str], str]:
    """Short labels under a chart: "03-15 10:00" for hours; days and months as they are."""
    if granularity == "hour":
        return lambda label: f"{label[5:10]} {label[11:16]}"
    return str


@console_view()
def energy_page(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Charge and discharge energy per site and bucket, from the API's energy service; an
    HTMX request gets the charts alone."""
    names = dict(sites(access.operator_id).order_by("name").values_list("site_id", "name"))
    form = EnergyForm(request.GET, site_choices=list(names.items()))
    context = {"form": form, **energy_report(access, form, names)}
    if wants_fragment(request):
        return render(request, "console/records/energy.html#energy-chart", context)
    return render(request, "console/records/energy.html", context)


def energy_report(access: ConsoleAccess, form: EnergyForm, names: dict[str, str]) -> dict:
    if not form.is_valid():
        return {"report": None}
    data = form.cleaned_data
    granularity, start, end = data["granularity"], data["start"], data["end"]
    try:
        report = aggregated_energy(
            access.operator_id,
            granularity,
            start,
            end,
            group_by="site",
            site_ids=[data["site"]] if data["site"] else None,
        )
    except TellusError as refused:  # e.g. more buckets than the API allows: said, not raised
        form.add_error(None, refused.message)
        return {"report": None}
    slots = [bucket_label(edge, granularity) for edge in buckets(start, end, granularity)]
    by_site: dict[str, list[dict]] = defaultdict(list)
    for point in report["series"]:
        by_site[point["site_id"]].append(point)
    # History may hold sites the operator no longer has (a site that changed operator,
    # or was deleted): named in words, never by id.
    former = dict(
        Site.objects.filter(site_id__in=set(by_site) - set(names)).values_list("site_id", "name")
    )
    per_site = [
        site_energy(site_id, site_name(site_id, names, former), points, slots, granularity)
        for site_id, points in by_site.items()
    ]
    return {
        "report": report,
        "sites": sorted(per_site, key=lambda site: (site.name, site.site_id)),
        "granularity": granularity,
        "start": start,
        "end": end,
        "bucket_count": len(slots),
    }


def site_name(site_id: str, names: dict[str, str], former: dict[str, str]) -> str:
    if site_id in names:
        return names[site_id]
    if site_id in former:
        return f"{former[site_id]} (no longer yours)"
    return "A site since deleted"


def site_energy(
    site_id: str, name: str, points: list[dict], slots: list[str], granularity: str
) -> SiteEnergy:
    chart = bar_chart(
        slots,
        {p["time"]: p["charge_energy"] for p in points},
        {p["time"]: p["discharge_energy"] for p in points},
        unit="kWh",
        above_name="charge",
        below_name="discharge",
        tick_label=tick_label(granularity),
    )
    return SiteEnergy(
        site_id,
        name,
        chart,
        points,
        round(sum(p["charge_energy"] for p in points), 6),
        round(sum(p["discharge_energy"] for p in points), 6),
        max((p["max_power"] for p in points), default=0.0),
    )
