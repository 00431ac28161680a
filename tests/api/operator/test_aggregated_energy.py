"""GET /v1/operator/aggregated/energy on a hand-computed fixture, in SQL (PostgreSQL) and
in the Python reference implementation (SQLite installs)."""

import pytest

from fleet import db
from fleet.models import TelemetrySample
from tests.api.operator.conftest import at, make_record
from tests.spec import assert_matches, response_schema

pytestmark = pytest.mark.django_db
URL = "/v1/operator/aggregated/energy"


@pytest.fixture(params=["sql", "python"])
def implementation(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setattr(db, "uses_postgres", lambda: False)
    return request.param


@pytest.fixture
def fleet(acme, rival, site_for, assigned_device):
    client = acme[0]
    alpha, beta = site_for(client, "Alpha"), site_for(client, "Beta")
    a1, b1 = assigned_device(client, alpha), assigned_device(client, beta)
    # 20 kWh over 10:30-12:30: 5 in the 10:00 hour, 10 in 11:00, 5 in 12:00; its peak
    # of 10.5 kW counts in each of the three.
    make_record(
        a1, "r1", "2025-03-15T10:30:00Z", "2025-03-15T12:30:00Z", 20.0,
        avg_power=10.0, max_power=10.5,
    )  # fmt: skip
    # A V2G discharge session: 4 kWh in 11:00, peak 9 kW (counted by magnitude).
    make_record(
        b1, "r2", "2025-03-15T11:00:00Z", "2025-03-15T11:30:00Z", 4.0,
        avg_power=-8.0, max_power=-9.0,
    )  # fmt: skip
    # Zero length: all in its start bucket.
    make_record(a1, "r3", "2025-03-15T12:15:00Z", "2025-03-15T12:15:00Z", 1.0, max_power=7.2)
    # Outside the range, and another operator's: never counted, nor their peaks.
    make_record(a1, "r4", "2025-03-14T10:00:00Z", "2025-03-14T11:00:00Z", 50.0, max_power=50.0)
    make_record(
        assigned_device(rival[0]), "r5", "2025-03-15T11:00:00Z", "2025-03-15T12:00:00Z", 99.0,
        max_power=99.0,
    )  # fmt: skip
    for device, moment, power in [
        (a1, "2025-03-15T11:10:00Z", 7.2),
        (b1, "2025-03-15T11:20:00Z", -11.0),
        (a1, "2025-03-15T12:05:00Z", 3.0),
    ]:
        TelemetrySample.objects.create(
            device=device, connector_id=1, timestamp=at(moment), state="charging",
            voltage=230, current=16, power=power, energy_delivered=1,
        )  # fmt: skip
    return alpha, beta


def series(response) -> list[tuple]:
    assert response.status_code == 200, response.content
    return [
        (p["time"], p["charge_energy"], p["discharge_energy"], p["max_power"], p["avg_power"])
        for p in response.json()["data"]["series"]
    ]


def test_hourly(api, acme, fleet, implementation):
    window = {"start_time": "2025-03-15T10:00:00Z", "end_time": "2025-03-15T13:00:00Z"}
    response = api.get(URL, acme[1], granularity="hour", **window)
    assert series(response) == [
        # No telemetry in 10:00: r1's peak. Telemetry's 11 kW beats r1 and r2 in 11:00;
        # r1's 10.5 beats the telemetry's 3 kW in 12:00.
        ("2025-03-15T10:00:00Z", 5.0, 0.0, 10.5, 5.0),
        ("2025-03-15T11:00:00Z", 10.0, 4.0, 11.0, 14.0),
        ("2025-03-15T12:00:00Z", 6.0, 0.0, 10.5, 6.0),
    ]
    data = response.json()["data"]
    assert data["total"] == {"charge_energy": 21.0, "discharge_energy": 4.0, "max_power": 11.0}
    assert data["granularity"] == "hour"
    assert_matches(response.json(), response_schema("get", "/operator/aggregated/energy"))


def test_a_range_cutting_a_session_counts_only_its_part(api, acme, fleet, implementation):
    window = {"start_time": "2025-03-15T10:45:00Z", "end_time": "2025-03-15T11:00:00Z"}
    # 15 of r1's 120 minutes: 2.5 kWh, over a quarter of an hour: 10 kW on average.
    assert series(api.get(URL, acme[1], granularity="hour", **window)) == [
        ("2025-03-15T10:00:00Z", 2.5, 0.0, 10.5, 10.0)
    ]


def test_daily_and_monthly_labels(api, acme, fleet, implementation):
    day = api.get(
        URL,
        acme[1],
        granularity="day",
        start_time="2025-03-15T00:00:00Z",
        end_time="2025-03-16T00:00:00Z",
    )
    assert series(day) == [("2025-03-15", 21.0, 4.0, 11.0, round(25 / 24, 6))]
    month = api.get(
        URL,
        acme[1],
        granularity="month",
        start_time="2025-03-01T00:00:00Z",
        end_time="2025-04-01T00:00:00Z",
    )
    assert [p[0:3] for p in series(month)] == [("2025-03", 71.0, 4.0)]


def test_grouped_by_site_and_filtered(api, acme, fleet, implementation):
    alpha, beta = fleet
    window = {"start_time": "2025-03-15T11:00:00Z", "end_time": "2025-03-15T12:00:00Z"}
    points = api.get(URL, acme[1], granularity="hour", group_by="site", **window).json()["data"][
        "series"
    ]
    by_site = {
        p["site_id"]: (p["charge_energy"], p["discharge_energy"], p["max_power"]) for p in points
    }
    # Alpha: r1's 10.5 kW beats its telemetry's 7.2; beta: telemetry's 11 beats r2's 9.
    assert by_site == {alpha.site_id: (10.0, 0.0, 10.5), beta.site_id: (0.0, 4.0, 11.0)}
    only_beta = api.get(URL, acme[1], granularity="hour", site_ids=beta.site_id, **window)
    assert series(only_beta) == [("2025-03-15T11:00:00Z", 0.0, 4.0, 11.0, 4.0)]
    by_operator = api.get(URL, acme[1], granularity="hour", group_by="operator", **window)
    assert {p["operator_id"] for p in by_operator.json()["data"]["series"]} == {acme[0].operator_id}


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        (
            {"start_time": "2025-03-15T00:00:00Z", "end_time": "2025-03-16T00:00:00Z"},
            1002,
            "granularity",
        ),
        ({"granularity": "hour", "end_time": "2025-03-16T00:00:00Z"}, 1002, "start_time"),
        (
            {
                "granularity": "week",
                "start_time": "2025-03-15T00:00:00Z",
                "end_time": "2025-03-16T00:00:00Z",
            },
            1001,
            "granularity",
        ),
        (
            {
                "granularity": "hour",
                "start_time": "2025-03-16T00:00:00Z",
                "end_time": "2025-03-15T00:00:00Z",
            },
            1001,
            "end_time",
        ),
        (
            {
                "granularity": "hour",
                "start_time": "2020-01-01T00:00:00Z",
                "end_time": "2025-01-01T00:00:00Z",
            },
            1001,
            "granularity",
        ),
        (
            {
                "granularity": "hour",
                "group_by": "region",
                "start_time": "2025-03-15T00:00:00Z",
                "end_time": "2025-03-16T00:00:00Z",
            },
            1001,
            "group_by",
        ),
    ],
)
def test_bad_queries(api, acme, fleet, params, code, field):
    response = api.get(URL, acme[1], **params)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["details"]["field"] == field


def test_foreign_site_ids_are_3001(api, acme, rival, site_for, fleet):
    theirs = site_for(rival[0], "Theirs")
    response = api.get(
        URL, acme[1], granularity="day", site_ids=f"{fleet[0].site_id},{theirs.site_id}",
        start_time="2025-03-15T00:00:00Z", end_time="2025-03-16T00:00:00Z",
    )  # fmt: skip
    assert response.status_code == 404
    assert response.json()["code"] == 3001


@pytest.mark.parametrize("energy", [5e-324, 1e-310, 2.2250738585072014e-308])
def test_a_vanishingly_small_energy_cannot_break_the_sums(
    api, acme, site_for, assigned_device, implementation, energy
):
    # PostgreSQL raises "value out of range: underflow" when a product of two doubles
    # rounds to zero; a tiny stored energy times a small share of a bucket would.
    device = assigned_device(acme[0], site_for(acme[0], "Tiny"))
    make_record(device, "tiny", "2025-03-15T10:00:00Z", "2025-03-15T12:00:00Z", energy)
    window = {"start_time": "2025-03-15T10:00:00Z", "end_time": "2025-03-15T10:00:00.001Z"}
    response = api.get(URL, acme[1], granularity="hour", **window)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["total"]["charge_energy"] < 1e-300
