"""Charging records (page and CSV export) and energy per site: the API's query and
service, scoped to the operator, behind the same filters."""

import csv
import io
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from console.web.access import ConsoleAccess, console_view
from console.web.bar_charts import BarChart, bar_chart
from console.web.forms.records import PAGE_SIZE, EnergyForm, RecordFilterForm
from console.web.tables import filtered_table, wants_fragment
from fleet.errors import NotFound, TellusError
from fleet.models import ChargingRecord
from fleet.queries.records import charging_records
from fleet.queries.sites import sites
from fleet.services.energy import aggregated_energy, bucket_label, buckets

# Records read per database round trip while exporting, and written per chunk sent.
EXPORT_CHUNK = 2000
ROWS_PER_WRITE = 500
CSV_HEADER = [
    "record_id", "device_id", "device_sn", "site_id", "site_name", "connector_id",
    "start_time", "end_time", "energy_kwh", "max_power_kw", "avg_power_kw", "cost",
    "meter_start_kwh", "meter_end_kwh", "stop_reason", "vehicle_info", "details",
]  # fmt: skip
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --- Records ---------------------------------------------------------------------------------


@console_view()
def record_list(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """The filtered, paged record table; an HTMX request gets the table alone."""
    table = record_table(access, RecordFilterForm(request.GET))
    if wants_fragment(request):
        return render(request, "console/records/list.html#record-table", table)
    return render(request, "console/records/list.html", table)


def filtered_records(access: ConsoleAccess, form: RecordFilterForm) -> QuerySet[ChargingRecord]:
    """What the filters select, the same for the page and its CSV (call after is_valid)."""
    try:
        queryset = charging_records(access.operator_id, **form.query_filters())
    except NotFound:  # a device id not of this operator: nothing matches, nothing is told
        return ChargingRecord.objects.none()
    return queryset.select_related("device__site")


def record_table(access: ConsoleAccess, form: RecordFilterForm) -> dict:
    return filtered_table(form, lambda: filtered_records(access, form), PAGE_SIZE)


@console_view()
def records_csv(request: HttpRequest, access: ConsoleAccess) -> HttpResponse:
    """Every record the page's filters select, streamed as CSV (no page limit)."""
    form = RecordFilterForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(
            f"{field.replace('__all__', 'filters')}: {' '.join(errors)}"
            for field, errors in form.errors.items()
        )
        return HttpResponseBadRequest(
            f"Nothing exported: {problems}\n", content_type="text/plain; charset=utf-8"
        )
    records = filtered_records(access, form).iterator(chunk_size=EXPORT_CHUNK)
    chunks = csv_chunks(records)
    response = StreamingHttpResponse(
        _asynchronous(chunks) if isinstance(request, ASGIRequest) else chunks,
        content_type="text/csv; charset=utf-8",
    )
    filename = f"charging-records-{timezone.now():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_safe(value: object) -> object:
    """Text a charger or a person wrote, made inert for spreadsheets; numbers pass as they
    are (a negative cost is a number, not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json(value: object) -> str:
    return "" if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def csv_row(record: ChargingRecord) -> list[object]:
    device = record.device
    return [
        record.record_id, device.device_id, device.sn, device.site_id, device.site.name,
        record.connector_id, utc_iso(record.start_time), utc_iso(record.end_time),
        record.energy, record.max_power, record.avg_power,
        "" if record.cost is None else record.cost,
        record.meter_start, record.meter_end, record.stop_reason,
        _json(record.vehicle_info), _json(record.details),
    ]  # fmt: skip


def csv_chunks(records: Iterable[ChargingRecord]) -> Iterator[str]:
    """The header at once, then the rows a few hundred at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    for count, record in enumerate(records, 1):
        writer.writerow([csv_safe(value) for value in csv_row(record)])
        if count % ROWS_PER_WRITE == 0:
            yield flush()
    yield flush()


async def _asynchronous(chunks: Iterator[str]) -> AsyncIterator[str]:
    """Under ASGI, Django reads a synchronous iterator to its end before sending anything;
    this hands the chunks over as they are made, on the request's thread (the database
    cursor's)."""
    pull = sync_to_async(next, thread_sensitive=True)
    done = object()
    while (chunk := await pull(chunks, done)) is not done:
        yield chunk


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
    per_site = [
        site_energy(site_id, names.get(site_id, site_id), points, slots, granularity)
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
