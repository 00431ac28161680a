"""The energy page: charge and discharge energy per site and bucket, the API's energy
service's own numbers, drawn as accessible bar charts; never another operator's."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from fleet.errors import InvalidParameter
from fleet.services.energy import aggregated_energy
from fleet.services.records import store_charging_record

pytestmark = pytest.mark.django_db
URL = "/energy/"
WINDOW = {"granularity": "hour", "start": "2025-03-15T10:00", "end": "2025-03-15T13:00"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def upload(device, record_id: str, start: str, end: str, energy: float, **fields) -> None:
    """Store a record as the charger API stores an upload."""
    body = {
        "record_id": record_id,
        "connector_id": 1,
        "start_time": at(start),
        "end_time": at(end),
        "energy": energy,
        "max_power": 10.5,
        "avg_power": 10.0,
        "meter_start": 0.0,
        "meter_end": abs(energy),
        **fields,
    }
    store_charging_record(device.device_id, body)


@pytest.fixture
def fleets(make_client, site_for, assigned_device):
    """Acme's Alpha charges 20 kWh over 10:30-12:30 (5, 10 and 5 kWh an hour) plus 1 kWh
    in an instant at 12:15; Beta discharges 4 kWh in the 11:00 hour. Rival charges 99."""
    acme, _ = make_client("Acme Charging")
    rival, _ = make_client("Rival Energy")
    alpha, beta = site_for(acme, "Alpha"), site_for(acme, "Beta")
    a1, b1 = assigned_device(acme, alpha), assigned_device(acme, beta)
    upload(a1, "r1", "2025-03-15T10:30", "2025-03-15T12:30", 20.0)
    upload(b1, "r2", "2025-03-15T11:00", "2025-03-15T11:30", 4.0, avg_power=-8.0, max_power=-9)
    upload(a1, "r3", "2025-03-15T12:15", "2025-03-15T12:15", 1.0)
    yard = site_for(rival, "Rival Yard")
    upload(assigned_device(rival, yard), "r9", "2025-03-15T11:00", "2025-03-15T12:00", 99.0)
    return acme, rival, alpha, beta, yard


def test_the_numbers_are_the_energy_services_for_the_same_window(fleets, signed_in):
    acme, _, alpha, beta, _ = fleets
    response = signed_in("Acme Charging").get(URL, WINDOW)
    expected = aggregated_energy(
        acme.operator_id, "hour", at(WINDOW["start"]), at(WINDOW["end"]), group_by="site"
    )
    assert response.context["report"] == expected
    totals = {s.site_id: (s.charge, s.discharge) for s in response.context["sites"]}
    assert totals == {alpha.site_id: (21.0, 0.0), beta.site_id: (0.0, 4.0)}
    html = response.content.decode()
    assert "21.00" in html and "4.00" in html  # the totals
    assert "99.0" not in html  # Rival's session


def test_every_role_sees_its_own_energy_and_never_anothers(fleets, signed_in):
    _, _, alpha, _, yard = fleets
    for role in ("viewer", "engineer", "operator", "admin"):
        report = signed_in("Acme Charging", role).get(URL, WINDOW).context["report"]
        assert report["total"]["charge_energy"] == 21.0
        assert yard.site_id not in {p["site_id"] for p in report["series"]}
    theirs = signed_in("Rival Energy").get(URL, WINDOW).context["report"]
    assert theirs["total"]["charge_energy"] == 99.0
    assert alpha.site_id not in {p["site_id"] for p in theirs["series"]}


def test_each_site_gets_an_accessible_chart_and_a_table_of_its_numbers(fleets, signed_in):
    html = signed_in("Acme Charging").get(URL, WINDOW).content.decode()
    assert html.count('<svg class="chart bars"') == 2
    assert 'role="img" aria-label="Energy per hour at Alpha: 21.00 kWh charged' in html
    assert "<title>2025-03-15T11:00:00Z: charge 10.000 kWh</title>" in html
    assert "<title>2025-03-15T11:00:00Z: discharge 4.000 kWh</title>" in html
    assert '<th scope="row">2025-03-15T12:00:00Z</th><td>6.0</td><td>0.0</td>' in html
    assert "Charged (bars above the line)" in html  # the legend says it in words


def test_a_site_narrows_the_report_to_that_site(fleets, signed_in):
    _, _, _, beta, _ = fleets
    response = signed_in("Acme Charging").get(URL, {**WINDOW, "site": beta.site_id})
    assert [site.name for site in response.context["sites"]] == ["Beta"]
    assert response.context["report"]["total"] == {
        "charge_energy": 0.0,
        "discharge_energy": 4.0,
        "max_power": 9.0,
    }


def test_another_operators_site_is_a_form_error_and_shows_no_data(fleets, signed_in):
    _, _, _, _, yard = fleets
    response = signed_in("Acme Charging", "admin").get(URL, {**WINDOW, "site": yard.site_id})
    assert response.status_code == 200
    assert response.context["report"] is None
    html = response.content.decode()
    assert 'role="alert"' in html and "Rival Yard" not in html and "99.0" not in html


@pytest.mark.parametrize("granularity, buckets, span", [
    ("hour", 24, timedelta(hours=24)),
    ("day", 30, timedelta(days=30)),
    ("month", 12, None),
])  # fmt: skip
def test_without_a_window_the_last_buckets_up_to_now_are_shown(
    fleets, signed_in, granularity, buckets, span
):
    before = timezone.now()
    context = signed_in("Acme Charging").get(URL, {"granularity": granularity}).context
    start, end = context["start"], context["end"]
    assert context["bucket_count"] == buckets
    assert start < before < end  # the bucket in progress is the last
    if span:
        assert end - start == span and end - span / buckets <= before
    else:
        assert (start.day, start.hour, end.day, end.hour) == (1, 0, 1, 0)
        assert (end.year - start.year) * 12 + end.month - start.month == 12


def test_without_a_granularity_the_page_is_daily(fleets, signed_in):
    context = signed_in("Acme Charging").get(URL).context
    assert (context["granularity"], context["bucket_count"]) == ("day", 30)


def test_one_end_of_the_window_takes_the_granularitys_reach_from_it(fleets, signed_in):
    browser = signed_in("Acme Charging")
    context = browser.get(URL, {"granularity": "hour", "end": "2025-03-15T13:00"}).context
    assert (context["start"], context["end"]) == (at("2025-03-14T13:00"), at("2025-03-15T13:00"))
    context = browser.get(URL, {"granularity": "day", "start": "2025-03-01T00:00"}).context
    assert (context["start"], context["end"]) == (at("2025-03-01T00:00"), at("2025-03-31T00:00"))


def test_an_htmx_request_gets_the_chart_fragment_alone(fleets, signed_in):
    response = signed_in("Acme Charging").get(URL, WINDOW, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="energy-chart"')
    assert "<svg" in html and "<html" not in html and "<form" not in html


def test_a_history_restore_gets_the_whole_page(fleets, signed_in):
    response = signed_in("Acme Charging").get(
        URL, WINDOW, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"granularity": "week"},
        {"start": "last tuesday"},
        {"start": "0001-01-01T00:00"},
        {"end": "9999-12-31T23:59"},
        {"start": "0001-01-01T00:00+01:00"},
        {"end": "9999-12-31T23:59-05:00"},
        {"start": "2025-03-15T13:00", "end": "2025-03-15T10:00"},
        {"end": "2000-01-01T00:00"},  # nothing before it to show
        {"site": "site_nope"},
        {"site": "s\x00"},
    ],
)
def test_bad_input_is_a_form_error_never_a_crash(fleets, signed_in, query):
    response = signed_in("Acme Charging").get(URL, query)
    assert response.status_code == 200
    assert response.context["report"] is None
    assert 'role="alert"' in response.content.decode()


def test_a_refusal_of_the_energy_service_is_its_message_on_the_form(fleets, signed_in, monkeypatch):
    def refuse(*args, **kwargs):
        raise InvalidParameter("end_time", "x", "The service said no")

    monkeypatch.setattr("console.web.views.records.aggregated_energy", refuse)
    response = signed_in("Acme Charging").get(URL, WINDOW)
    assert response.status_code == 200
    assert response.context["report"] is None
    assert "The service said no" in response.content.decode()


def test_a_window_without_sessions_says_what_to_try(fleets, signed_in):
    query = {"granularity": "day", "start": "2024-01-01T00:00", "end": "2024-02-01T00:00"}
    html = signed_in("Acme Charging").get(URL, query).content.decode()
    assert "No charging session falls between" in html
    assert "Choose a longer window" in html


def test_the_page_costs_a_bounded_number_of_queries(
    make_client, site_for, assigned_device, signed_in, django_assert_max_num_queries
):
    acme, _ = make_client("Acme Charging")
    for n in range(6):
        device = assigned_device(acme, site_for(acme, f"Site {n}"))
        for hour in range(10):
            start = f"2025-03-{10 + n:02d}T{hour:02d}:00"
            upload(device, f"r{n}-{hour}", start, f"2025-03-{10 + n:02d}T{hour:02d}:45", 3.0)
    browser = signed_in("Acme Charging")
    query = {"granularity": "day", "start": "2025-03-01T00:00", "end": "2025-04-01T00:00"}
    # Session, user, membership; the sites; the energy (one statement); the session's save.
    with django_assert_max_num_queries(9):
        response = browser.get(URL, query)
    assert len(response.context["sites"]) == 6


def test_a_window_too_long_for_a_readable_chart_is_refused_with_what_to_do(fleets, signed_in):
    browser = signed_in("Acme Charging")
    response = browser.get(
        "/energy/",
        {"granularity": "hour", "start": "2026-01-01T00:00", "end": "2026-03-01T00:00"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "at most 744 bars" in html and "coarser granularity" in html
