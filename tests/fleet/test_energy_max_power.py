"""A bucket's max_power: the highest magnitude of the telemetry power in it and of the
max_power of the charging records overlapping it, in PostgreSQL and in the Python
reference alike; and the two implementations agree on anything (hypothesis)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fleet import db
from fleet.models import ChargingRecord, TelemetrySample
from fleet.services import energy
from fleet.services.energy import LATEST
from tests.api.operator.conftest import at, make_record

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["sql", "python"])
def implementation(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setattr(db, "uses_postgres", lambda: False)
    return request.param


@pytest.fixture
def depot(make_client, site_for, assigned_device):
    client = make_client()[0]
    site = site_for(client, "Depot")
    return client.operator_id, assigned_device(client, site), assigned_device(client, site)


def sample(device, moment: str | datetime, power: float) -> TelemetrySample:
    return TelemetrySample.objects.create(
        device=device, connector_id=1, timestamp=at(moment) if isinstance(moment, str) else moment,
        state="discharging" if power < 0 else "charging",
        voltage=230, current=16, power=power, energy_delivered=1,
    )  # fmt: skip


def peaks(operator_id: str, granularity: str, start: str, end: str) -> dict[str, float]:
    result = energy.aggregated_energy(operator_id, granularity, at(start), at(end))
    return {p["time"]: p["max_power"] for p in result["series"]}


def test_records_without_telemetry_give_their_max_power(depot, implementation):
    operator_id, charger, _ = depot
    make_record(charger, "r1", "2025-03-15T10:10:00Z", "2025-03-15T10:50:00Z", 5.0, max_power=11.0)
    result = energy.aggregated_energy(
        operator_id, "hour", at("2025-03-15T10:00:00Z"), at("2025-03-15T11:00:00Z")
    )
    assert [(p["time"], p["max_power"]) for p in result["series"]] == [
        ("2025-03-15T10:00:00Z", 11.0)
    ]
    assert result["total"]["max_power"] == 11.0


def test_the_higher_of_telemetry_and_records_wins(depot, implementation):
    operator_id, charger, other = depot
    make_record(charger, "r1", "2025-03-15T10:00:00Z", "2025-03-15T12:00:00Z", 10.0, max_power=7.0)
    sample(other, "2025-03-15T10:30:00Z", 9.5)  # beats the record in 10:00
    sample(charger, "2025-03-15T11:30:00Z", 6.0)  # loses to it in 11:00
    assert peaks(operator_id, "hour", "2025-03-15T10:00:00Z", "2025-03-15T12:00:00Z") == {
        "2025-03-15T10:00:00Z": 9.5,
        "2025-03-15T11:00:00Z": 7.0,
    }


def test_a_record_spanning_several_buckets_counts_in_each(depot, implementation):
    operator_id, charger, other = depot
    # 22:30 on the 14th to 01:15 on the 17th: four days, 2 + 24 + 24 + 2 hourly buckets.
    make_record(
        charger, "long", "2025-03-14T22:30:00Z", "2025-03-17T01:15:00Z", 60.0, max_power=22.0
    )
    make_record(other, "short", "2025-03-15T23:00:00Z", "2025-03-16T00:00:00Z", 1.0, max_power=3.0)
    hourly = peaks(operator_id, "hour", "2025-03-14T00:00:00Z", "2025-03-18T00:00:00Z")
    assert len(hourly) == 52
    assert set(hourly.values()) == {22.0}
    assert min(hourly) == "2025-03-14T22:00:00Z"
    assert max(hourly) == "2025-03-17T01:00:00Z"
    daily = peaks(operator_id, "day", "2025-03-14T00:00:00Z", "2025-03-18T00:00:00Z")
    assert daily == {
        "2025-03-14": 22.0,
        "2025-03-15": 22.0,
        "2025-03-16": 22.0,
        "2025-03-17": 22.0,
    }


def test_bucket_and_range_boundaries_are_half_open(depot, implementation):
    operator_id, charger, _ = depot
    # Ends exactly at 11:00: not in the 11:00 bucket.
    make_record(charger, "a", "2025-03-15T10:00:00Z", "2025-03-15T11:00:00Z", 1.0, max_power=5.0)
    # Starts exactly at 12:00: only in 12:00.
    make_record(charger, "b", "2025-03-15T12:00:00Z", "2025-03-15T12:30:00Z", 1.0, max_power=6.0)
    # Zero length at 11:00 sharp: in 11:00 (the bucket of its start), not in 10:00.
    make_record(charger, "c", "2025-03-15T11:00:00Z", "2025-03-15T11:00:00Z", 1.0, max_power=4.0)
    # Zero length at 13:00, the range end: outside the range.
    make_record(charger, "d", "2025-03-15T13:00:00Z", "2025-03-15T13:00:00Z", 1.0, max_power=99.0)
    # Ends exactly at the range start: outside.
    make_record(charger, "e", "2025-03-15T09:00:00Z", "2025-03-15T10:00:00Z", 1.0, max_power=98.0)
    assert peaks(operator_id, "hour", "2025-03-15T10:00:00Z", "2025-03-15T13:00:00Z") == {
        "2025-03-15T10:00:00Z": 5.0,
        "2025-03-15T11:00:00Z": 4.0,
        "2025-03-15T12:00:00Z": 6.0,
    }
    # A range starting inside a bucket: a record ending before the range start is outside
    # although it overlaps the rest of the bucket.
    make_record(charger, "f", "2025-03-15T14:00:00Z", "2025-03-15T14:20:00Z", 1.0, max_power=50.0)
    make_record(charger, "g", "2025-03-15T14:20:00Z", "2025-03-15T14:40:00Z", 1.0, max_power=8.0)
    assert peaks(operator_id, "hour", "2025-03-15T14:20:00Z", "2025-03-15T15:00:00Z") == {
        "2025-03-15T14:00:00Z": 8.0
    }


def test_v2g_peaks_count_by_magnitude(depot, implementation):
    operator_id, charger, _ = depot
    make_record(
        charger, "v2g", "2025-03-15T10:00:00Z", "2025-03-15T10:30:00Z", 4.0,
        avg_power=-8.0, max_power=-10.0,
    )  # fmt: skip
    sample(charger, "2025-03-15T10:10:00Z", -9.0)
    result = energy.aggregated_energy(
        operator_id, "hour", at("2025-03-15T10:00:00Z"), at("2025-03-15T11:00:00Z")
    )
    (point,) = result["series"]
    assert (point["discharge_energy"], point["max_power"]) == (4.0, 10.0)


def test_a_record_without_energy_still_gives_its_bucket_a_peak(depot, implementation):
    operator_id, charger, _ = depot
    make_record(charger, "zero", "2025-03-15T10:00:00Z", "2025-03-15T10:05:00Z", 0.0, max_power=2.0)
    result = energy.aggregated_energy(
        operator_id, "hour", at("2025-03-15T10:00:00Z"), at("2025-03-15T11:00:00Z")
    )
    assert [(p["charge_energy"], p["max_power"], p["avg_power"]) for p in result["series"]] == [
        (0.0, 2.0, 0.0)
    ]


@pytest.mark.parametrize("granularity", ["hour", "day", "month"])
def test_the_end_of_time(depot, implementation, granularity):
    """A range reaching 9999-12-31T23:59:59.999999Z: the last bucket stops there."""
    operator_id, charger, _ = depot
    make_record(charger, "last", "9999-12-31T23:30:00Z", "9999-12-31T23:45:00Z", 3.0, max_power=7.0)
    sample(charger, LATEST, 8.0)  # the very last moment is outside the (clamped) range
    sample(charger, "9999-12-31T23:50:00Z", 6.0)
    result = energy.aggregated_energy(operator_id, granularity, at("9999-12-31T22:00:00Z"), LATEST)
    label = {"hour": "9999-12-31T23:00:00Z", "day": "9999-12-31", "month": "9999-12"}
    (point,) = result["series"]
    assert (point["time"], point["charge_energy"], point["max_power"]) == (
        label[granularity], 3.0, 7.0,
    )  # fmt: skip
    # An end past the last UTC moment (an offset west of UTC) is clamped, not an error.
    west = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5)))
    again = energy.aggregated_energy(operator_id, granularity, at("9999-12-31T22:00:00Z"), west)
    assert again["series"] == result["series"]


def test_the_beginning_of_time(depot, implementation):
    operator_id, charger, _ = depot
    make_record(
        charger, "first", "0001-01-01T00:00:00Z", "0001-01-01T02:00:00Z", 2.0, max_power=5.0
    )
    result = energy.aggregated_energy(
        operator_id, "hour", datetime.min.replace(tzinfo=UTC), at("0001-01-01T03:00:00Z")
    )
    assert [(p["time"], p["charge_energy"], p["max_power"]) for p in result["series"]] == [
        ("0001-01-01T00:00:00Z", 1.0, 5.0),
        ("0001-01-01T01:00:00Z", 1.0, 5.0),
    ]


@pytest.mark.parametrize(
    ("start", "end", "granularity"),
    [
        ("9999-12-31T22:00:00Z", "9999-12-31T23:59:59.999999Z", "hour"),
        ("9999-12-31T22:00:00Z", "9999-12-31T23:59:00-05:00", "month"),
        ("0001-01-01T00:30:00+01:00", "0001-01-01T05:00:00Z", "hour"),
    ],
)
def test_the_api_never_answers_500_at_the_ends_of_time(
    api, make_client, operator_token, start, end, granularity
):
    """Whether the API edge accepts such times or refuses them (1001), never a 500."""
    client, secret = make_client()
    response = api.get(
        "/v1/operator/aggregated/energy", operator_token(client, secret),
        granularity=granularity, start_time=start, end_time=end,
    )  # fmt: skip
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["code"] in (1001, 1002)


# --- The two implementations agree ------------------------------------------------------

BASE = datetime(2025, 3, 31, tzinfo=UTC)  # a day and a month boundary in reach
MINUTE = timedelta(minutes=1)
HOUR = 60 * MINUTE


# Moments from 6 hours before BASE to 30 hours after: on the hour (a bucket boundary),
# on a quarter, or anywhere to the microsecond. Records and ranges take both their ends
# from these, so they often start or end on a bucket boundary, or where another ends.
moments = st.builds(
    lambda hour, part: BASE + hour * HOUR + part,
    st.integers(-6, 30),
    st.one_of(
        st.just(timedelta(0)),
        st.sampled_from([15 * MINUTE, 30 * MINUTE, 45 * MINUTE]),
        st.integers(1, 3600 * 10**6 - 1).map(lambda us: timedelta(microseconds=us)),
    ),
)
spans = st.tuples(moments, moments).map(lambda ends: tuple(sorted(ends)))
sessions = st.one_of(spans, spans, moments.map(lambda moment: (moment, moment)))  # 1/3 zero
powers = st.one_of(st.sampled_from([0.0, 7.2, -7.2, 11.0]), st.floats(-350, 350, width=32))
records = st.lists(
    st.tuples(
        st.integers(0, 2),  # device
        sessions,  # (start_time, end_time)
        st.one_of(st.just(0.0), st.floats(0, 120, width=32)),  # energy
        powers,  # avg_power: its sign picks charge or discharge
        powers,  # max_power
    ),
    max_size=8,
)
samples = st.lists(st.tuples(st.integers(0, 2), moments, powers), max_size=6)
# Query ranges: between two moments, or from either to past all of them.
FIRST, LAST = BASE - 6 * HOUR, BASE + 31 * HOUR
ranges = st.one_of(
    spans.filter(lambda ends: ends[0] < ends[1]),
    st.just((FIRST, LAST)),
    moments.map(lambda moment: (moment, LAST)),
    moments.filter(lambda moment: moment > FIRST).map(lambda moment: (FIRST, moment)),
)


def points_of(compute, *args) -> list[tuple]:
    return [(p.start, p.group, p.charge, p.discharge, p.max_power) for p in compute(*args)]


@pytest.fixture
def two_sites(make_client, site_for, assigned_device):
    client = make_client()[0]
    north, south = site_for(client, "North"), site_for(client, "South")
    devices = [
        assigned_device(client, north),
        assigned_device(client, north),
        assigned_device(client, south),
    ]
    return client.operator_id, north.site_id, devices


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(  # a record ending on a bucket boundary, a zero-length one on the next
    records=[
        (0, (BASE, BASE + HOUR), 1.0, 1.0, 3.0),
        (0, (BASE + 2 * HOUR, BASE + 2 * HOUR), 1.0, 1.0, 4.0),
    ],
    samples=[(1, BASE + HOUR, 5.0)],
    window=(BASE - HOUR, BASE + 4 * HOUR),
    granularity="hour",
    group_by=None,
    only_north=False,
)
@example(  # ranges cutting buckets, a V2G record, a record ending at the range start
    records=[
        (0, (BASE - 30 * MINUTE, BASE + 30 * MINUTE), 2.0, -5.0, -6.0),
        (2, (BASE + 23 * HOUR, BASE + 24 * HOUR), 1.0, 1.0, 2.0),
        (1, (BASE - HOUR, BASE - 15 * MINUTE), 1.0, 1.0, 9.0),
    ],
    samples=[(2, BASE + 24 * HOUR, -3.0)],
    window=(BASE - 15 * MINUTE, BASE + 24 * HOUR + 15 * MINUTE),
    granularity="day",
    group_by="site",
    only_north=False,
)
@given(
    records=records,
    samples=samples,
    window=ranges,
    granularity=st.sampled_from(["hour", "day", "month"]),
    group_by=st.sampled_from([None, "site", "operator"]),
    only_north=st.booleans(),
)
@pytest.mark.slow
def test_postgresql_and_the_python_reference_agree(
    two_sites, records, samples, window, granularity, group_by, only_north
):
    operator_id, north, devices = two_sites
    sites = [north] if only_north else None
    args = (operator_id, granularity, *window, group_by, sites)
    with transaction.atomic():
        for n, (device, (begin, end), kwh, avg_power, max_power) in enumerate(records):
            ChargingRecord.objects.create(
                device=devices[device], record_id=f"r{n}", connector_id=1,
                start_time=begin, end_time=end, energy=kwh,
                max_power=max_power, avg_power=avg_power,
                meter_start=0, meter_end=kwh, upload_digest=f"r{n}",
            )  # fmt: skip
        for device, moment, power in samples:
            sample(devices[device], moment, power)
        in_sql = points_of(energy.aggregate_sql, *args)
        in_python = points_of(energy.aggregate_python, *args)
        transaction.set_rollback(True)
    assert [p[:2] for p in in_sql] == [p[:2] for p in in_python]
    for ours, reference in zip(in_sql, in_python, strict=True):
        assert ours[2:4] == pytest.approx(reference[2:4], rel=1e-9, abs=1e-9)
        assert ours[4] == reference[4]
