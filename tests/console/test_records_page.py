"""The records page and its CSV export: the operator's charging records behind the same
filters, never another operator's; the CSV streamed, inert in a spreadsheet, and cheap
however many records it holds."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from django.utils import timezone

from console.web.views.records import CSV_HEADER
from fleet.models import ChargingRecord
from fleet.services.records import store_charging_record

pytestmark = pytest.mark.django_db
URL, CSV_URL = "/records/", "/records.csv"
BAD_FILTERS = [
    {"start": "yesterday"},
    {"start": "2025-02-30T10:00"},
    {"start": "0001-01-01T00:00"},
    {"end": "9999-12-31T23:59"},
    {"start": "0001-01-01T00:00+01:00"},
    {"end": "9999-12-31T23:59-05:00"},
    {"end": "10000-01-01T00:00"},
    {"start": "2025-03-15T12:00", "end": "2025-03-15T10:00"},
    {"start": "2025-03-15T12:00", "end": "2025-03-15T12:00"},
    {"connector": "0"},
    {"connector": "abc"},
    {"device": "d\x00"},
    {"page": "0"},
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def upload(device, record_id: str, start: str, minutes: int = 60, **fields) -> ChargingRecord:
    """Store a record as the charger API stores an upload."""
    begin = at(start)
    body = {
        "record_id": record_id,
        "connector_id": 1,
        "start_time": begin,
        "end_time": begin + timedelta(minutes=minutes),
        "energy": 12.5,
        "max_power": 11.0,
        "avg_power": 7.4,
        "meter_start": 100.0,
        "meter_end": 112.5,
        "stop_reason": "ev_disconnected",
        **fields,
    }
    record, _ = store_charging_record(device.device_id, body)
    return record


@pytest.fixture
def fleets(make_client, site_for, assigned_device):
    acme, _ = make_client("Acme Charging")
    rival, _ = make_client("Rival Energy")
    depot = site_for(acme, "Acme Depot")
    ours = [assigned_device(acme, depot) for _ in range(2)]
    theirs = assigned_device(rival, site_for(rival, "Rival Yard"))
    return ours, theirs


@pytest.fixture
def records(fleets):
    (first, second), theirs = fleets
    return {
        "a": upload(first, "cdr-a", "2025-03-15T08:00:00"),
        "b": upload(first, "cdr-b", "2025-03-15T10:00:00", connector_id=2),
        "c": upload(second, "cdr-c", "2025-03-15T12:00:00", cost=-1.5, avg_power=-6.0),
        "theirs": upload(theirs, "cdr-rival", "2025-03-15T09:00:00"),
    }


def ids(response) -> list[str]:
    return [record.record_id for record in response.context["page"].items]


def exported(response) -> list[list[str]]:
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- The page ----------------------------------------------------------------------------


def test_every_role_sees_its_operators_records_newest_first_and_none_of_anothers(
    records, signed_in
):
    for role in ("viewer", "engineer", "operator", "admin"):
        response = signed_in("Acme Charging", role).get(URL)
        assert ids(response) == ["cdr-c", "cdr-b", "cdr-a"]
        assert "cdr-rival" not in response.content.decode()


def test_a_row_shows_the_session_its_charger_and_why_it_stopped(fleets, records, signed_in):
    (first, _), _ = fleets
    html = signed_in("Acme Charging").get(URL).content.decode()
    assert f'href="/devices/{first.device_id}/">{first.sn}</a>' in html
    assert '<time datetime="2025-03-15T10:00:00Z">2025-03-15 10:00:00 UTC</time>' in html
    assert "12.50 kWh" in html and "11.0 kW" in html and "ev disconnected" in html
    assert '<span class="badge discharge">discharge</span>' in html  # cdr-c, a V2G session


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"device": "first"}, ["cdr-b", "cdr-a"]),
        ({"connector": "2"}, ["cdr-b"]),
        ({"start": "2025-03-15T10:00"}, ["cdr-c", "cdr-b"]),
        ({"end": "2025-03-15T10:00"}, ["cdr-a"]),  # [start, end) on the start time
        ({"start": "2025-03-15T09:00", "end": "2025-03-15T12:00"}, ["cdr-b"]),
        ({"start": "2025-03-15T11:00:00+01:00"}, ["cdr-c", "cdr-b"]),  # a zone is honoured
        ({"device": "first", "connector": "1"}, ["cdr-a"]),
    ],
)
def test_the_table_filters_by_device_connector_and_window(
    fleets, records, signed_in, query, expected
):
    (first, _), _ = fleets
    if query.get("device") == "first":
        query = {**query, "device": first.device_id}
    assert ids(signed_in("Acme Charging").get(URL, query)) == expected


def test_another_operators_device_as_a_filter_matches_nothing(fleets, records, signed_in):
    _, theirs = fleets
    response = signed_in("Acme Charging", "admin").get(URL, {"device": theirs.device_id})
    assert response.status_code == 200
    assert response.context["page"].total == 0
    assert "cdr-rival" not in response.content.decode()
    assert "No record matches these filters" in response.content.decode()


@pytest.mark.parametrize("query", BAD_FILTERS)
def test_bad_filters_get_a_message_not_an_error(records, signed_in, query):
    response = signed_in("Acme Charging").get(URL, query)
    assert response.status_code == 200
    assert response.context["page"] is None
    assert 'role="alert"' in response.content.decode()


def test_an_end_before_the_start_says_so(records, signed_in):
    query = {"start": "2025-03-15T12:00", "end": "2025-03-15T10:00"}
    html = signed_in("Acme Charging").get(URL, query).content.decode()
    assert "Until must be after From." in html


def test_a_year_outside_the_apis_range_says_which_range(records, signed_in):
    html = signed_in("Acme Charging").get(URL, {"start": "0001-01-01T00:00"}).content.decode()
    assert "from 2000-01-01 up to 2100-01-01" in html


def test_an_htmx_request_gets_the_table_fragment_alone(records, signed_in):
    response = signed_in("Acme Charging").get(URL, {"connector": "2"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="record-table"')
    assert "<html" not in html and "<form" not in html
    assert html.count("<tr>") == 2  # the header and cdr-b's row


def test_a_history_restore_gets_the_whole_page(records, signed_in):
    response = signed_in("Acme Charging").get(
        URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


def test_the_download_link_carries_the_filters_but_not_the_page(fleets, records, signed_in):
    (first, _), _ = fleets
    query = {"device": first.device_id, "connector": "1", "page": "1"}
    html = signed_in("Acme Charging").get(URL, query).content.decode()
    assert f'href="/records.csv?device={first.device_id}&amp;connector=1"' in html


def test_with_no_record_yet_the_page_says_where_records_come_from(fleets, signed_in):
    html = signed_in("Acme Charging").get(URL).content.decode()
    assert "No charging session has been recorded" in html
    assert "upload a record when a session ends" in html


def test_the_table_pages_through_many_records(fleets, signed_in):
    (first, _), _ = fleets
    for n in range(30):
        upload(first, f"cdr-{n:02d}", f"2025-03-{1 + n % 28:02d}T{n % 24:02d}:00:00")
    browser = signed_in("Acme Charging")
    first_page, second_page = browser.get(URL), browser.get(URL, {"page": 2})
    assert (first_page.context["page"].total, len(ids(first_page)), len(ids(second_page))) == (
        30,
        25,
        5,
    )
    assert not set(ids(first_page)) & set(ids(second_page))


def test_the_page_costs_a_bounded_number_of_queries(
    fleets, signed_in, django_assert_max_num_queries
):
    (first, second), _ = fleets
    for n in range(40):
        upload((first, second)[n % 2], f"cdr-{n:02d}", f"2025-03-01T{n % 24:02d}:{n:02d}:00")
    browser = signed_in("Acme Charging")
    # Session, user, membership; the count and the page (chargers and sites joined); the
    # session's save. Filtering by a device adds reading it by id or serial and its
    # ownership check.
    with django_assert_max_num_queries(9):
        assert browser.get(URL).status_code == 200
    with django_assert_max_num_queries(11):
        assert browser.get(URL, {"device": first.device_id}).status_code == 200


# --- The CSV -----------------------------------------------------------------------------


def test_the_csv_is_a_streamed_attachment_named_with_the_date(records, signed_in):
    response = signed_in("Acme Charging").get(CSV_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.now().strftime("%Y-%m-%d")
    assert response["Content-Disposition"] == f'attachment; filename="charging-records-{today}.csv"'
    assert exported(response)[0] == CSV_HEADER


def test_the_csv_has_one_row_per_record_with_its_fields(fleets, records, signed_in):
    (_, second), _ = fleets
    header, *rows = exported(signed_in("Acme Charging").get(CSV_URL))
    assert [row[0] for row in rows] == ["cdr-c", "cdr-b", "cdr-a"]
    row = dict(zip(header, rows[0], strict=True))
    assert row == {
        "record_id": "cdr-c",
        "device_id": second.device_id,
        "device_sn": second.sn,
        "site_id": second.site_id,
        "site_name": "Acme Depot",
        "connector_id": "1",
        "start_time_utc": "2025-03-15T12:00:00Z",
        "end_time_utc": "2025-03-15T13:00:00Z",
        "energy_kwh": "12.5",
        "max_power_kw": "11.0",
        "avg_power_kw": "-6.0",
        "cost": "-1.5",  # a number keeps its sign: only text is guarded
        "meter_start_kwh": "100.0",
        "meter_end_kwh": "112.5",
        "stop_reason": "ev_disconnected",
        "vehicle_info": "",
        "details": "",
    }


@pytest.mark.parametrize(
    "reason", ['=HYPERLINK("http://x")', "+1+1", "-2-3", "@SUM(A1)", "\tcmd", "\rcmd"]
)
def test_text_a_spreadsheet_would_run_as_a_formula_is_made_inert(fleets, signed_in, reason):
    (first, _), _ = fleets
    upload(first, reason, "2025-03-15T08:00:00", stop_reason=reason, vehicle_info={"vin": "x"})
    header, row = exported(signed_in("Acme Charging").get(CSV_URL))
    fields = dict(zip(header, row, strict=True))
    assert fields["stop_reason"] == "'" + reason
    assert fields["record_id"] == "'" + reason
    assert fields["vehicle_info"] == '{"vin":"x"}'


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"device": "first"}, ["cdr-b", "cdr-a"]),
        ({"connector": "2"}, ["cdr-b"]),
        ({"start": "2025-03-15T09:00", "end": "2025-03-15T12:00"}, ["cdr-b"]),
    ],
)
def test_the_csv_selects_what_the_page_selects(fleets, records, signed_in, query, expected):
    (first, _), _ = fleets
    if query.get("device") == "first":
        query = {"device": first.device_id}
    browser = signed_in("Acme Charging")
    _, *rows = exported(browser.get(CSV_URL, query))
    assert [row[0] for row in rows] == expected == ids(browser.get(URL, query))


def test_the_csv_never_holds_another_operators_records(fleets, records, signed_in):
    _, theirs = fleets
    browser = signed_in("Acme Charging", "admin")
    assert "cdr-rival" not in {row[0] for row in exported(browser.get(CSV_URL))}
    foreign = browser.get(CSV_URL, {"device": theirs.device_id})
    assert foreign.status_code == 200
    assert exported(foreign) == [CSV_HEADER]


@pytest.mark.parametrize("query", BAD_FILTERS)
def test_bad_filters_refuse_the_export_with_the_reason(records, signed_in, query):
    response = signed_in("Acme Charging").get(CSV_URL, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.startswith(b"Nothing exported: ")


def test_the_csv_costs_the_same_few_queries_for_many_records(
    fleets, signed_in, django_assert_max_num_queries
):
    (first, second), _ = fleets
    start = at("2025-01-01T00:00:00")
    ChargingRecord.objects.bulk_create(
        ChargingRecord(
            device=(first, second)[n % 2],
            record_id=f"bulk-{n:04d}",
            connector_id=1,
            start_time=start + timedelta(minutes=n),
            end_time=start + timedelta(minutes=n + 30),
            energy=1.0,
            max_power=7.0,
            avg_power=2.0,
            meter_start=0.0,
            meter_end=1.0,
            upload_digest=f"bulk-{n}",
        )
        for n in range(2500)
    )
    browser = signed_in("Acme Charging")
    # Session, user, membership; one cursor over the records (chargers and sites joined),
    # however many chunks it is read in; the session's save.
    with django_assert_max_num_queries(8):
        response = browser.get(CSV_URL)
        rows = exported(response)
    assert len(rows) == 1 + 2500
    assert rows[1][0] == "bulk-2499"


def test_under_asgi_the_csv_is_streamed_as_it_is_read(records, console_user):
    user = console_user("vera", "Acme Charging", "viewer")

    async def download():
        browser = AsyncClient()
        await browser.aforce_login(user)
        response = await browser.get(CSV_URL)
        chunks = [chunk async for chunk in response.streaming_content]
        return response, chunks

    response, chunks = async_to_sync(download)()
    assert response.status_code == 200 and response.is_async
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert rows[0] == CSV_HEADER
    assert [row[0] for row in rows[1:]] == ["cdr-c", "cdr-b", "cdr-a"]
