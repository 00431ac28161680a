"""The hourly peak-power rollup (SitePowerPeak) on PostgreSQL: whatever writes, deletes or
edits samples, and wherever chargers move, it holds what a scan of the samples gives (by
the operator and site each sample is stamped with);
the energy report reads whole hours from it and the partial hours at a range's ends from
the samples, and still agrees with the Python reference."""

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections, transaction
from django.db.models import Max
from django.db.models.functions import Abs, TruncHour
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.actors import Actor
from fleet.db import close_pools
from fleet.models import Device, Operator, Site, SitePowerPeak, TelemetrySample
from fleet.services import energy, provisioning, telemetry
from tests.api.operator.conftest import at
from tests.fleet.test_energy_max_power import moments, powers, ranges

HOUR = timedelta(hours=1)
T0 = datetime(2025, 3, 15, 10, tzinfo=UTC)
Peaks = dict[tuple[str, datetime], float]


# --- Helpers ------------------------------------------------------------------------------


def scanned(with_operator: bool = False) -> Peaks:
    """What the rollup must hold: the samples' peaks per stamped site and UTC hour (and
    operator: in these tests a site has one operator, so the site alone tells)."""
    key = ["operator_id", "site_id", "hour"] if with_operator else ["site_id", "hour"]
    rows = (
        TelemetrySample.objects.filter(operator__isnull=False, site__isnull=False)
        .annotate(hour=TruncHour("timestamp", tzinfo=UTC))
        .values(*key)
        .annotate(peak=Max(Abs("power")))
    )
    return {tuple(row[k] for k in key): row["peak"] for row in rows}


def rolled_up(with_operator: bool = False) -> Peaks:
    if with_operator:
        return {(p.operator_id, p.site_id, p.hour): p.peak for p in SitePowerPeak.objects.all()}
    return {(p.site_id, p.hour): p.peak for p in SitePowerPeak.objects.all()}


def make_site(operator: Operator, name: str) -> Site:
    return Site.objects.create(operator=operator, name=name)


def make_charger(site: Site | None, n: int) -> Device:
    return Device.objects.create(
        sn=f"SN-PEAK-{n:05d}", model="TP-DC180", manufacturer="Tellus Power",
        firmware_version="3.1.0", secret_hash="unused", secret_expires_at=timezone.now(),
        site=site,
    )  # fmt: skip


def sample(device: Device, moment: datetime, power: float, **extra) -> TelemetrySample:
    return TelemetrySample.objects.create(**fields(device.device_id, moment, power), **extra)


def fields(device_id: str, moment: datetime, power: float) -> dict:
    return {
        "device_id": device_id, "connector_id": 1, "timestamp": moment, "state": "charging",
        "voltage": 230.0, "current": 16.0, "power": power, "energy_delivered": 1.0,
    }  # fmt: skip


def batch_row(device_id: str, moment: datetime, power: float) -> dict:
    """A row as the fast path's group-commit writer takes it."""
    row = dict.fromkeys(telemetry._COLUMNS)
    return {**row, **fields(device_id, moment, power), "received_at": timezone.now()}


def peaks_of(operator_id: str, granularity: str, start, end, group_by=None) -> dict:
    result = energy.aggregated_energy(operator_id, granularity, start, end, group_by)
    key = {"site": "site_id", "operator": "operator_id"}.get(group_by or "")
    return {(p["time"], p.get(key)) if key else p["time"]: p["max_power"] for p in result["series"]}


def both_implementations(*args) -> tuple[list[tuple], list[tuple]]:
    def points(compute) -> list[tuple]:
        return [(p.start, p.group, p.max_power) for p in compute(*args)]

    return points(energy.aggregate_sql), points(energy.aggregate_python)


@pytest.fixture
def fleet(db):
    """Operator Acme with sites North and South, a rival with its Yard; two chargers on
    North, one on South, one on the Yard."""
    acme, rival = Operator.objects.create(name="Acme"), Operator.objects.create(name="Rival")
    north, south, yard = (
        make_site(acme, "North"),
        make_site(acme, "South"),
        make_site(rival, "Yard"),
    )
    chargers = [make_charger(site, n) for n, site in enumerate([north, north, south, yard])]
    return acme, (north, south, yard), chargers


# --- Every way in --------------------------------------------------------------------------


def test_orm_create_bulk_create_and_the_orm_ingest_path_feed_it(fleet):
    _, (north, south, _), (n1, n2, s1, y1) = fleet
    sample(n1, T0 + timedelta(minutes=5), 7.0)
    sample(n2, T0 + timedelta(minutes=50), -9.5)  # a V2G sample: its magnitude counts
    TelemetrySample.objects.bulk_create(
        [
            TelemetrySample(**fields(device.device_id, T0 + offset, power))
            for device, offset, power in [
                (n1, timedelta(minutes=20), 3.0),  # lower than the hour's peak: no change
                (s1, timedelta(minutes=59, seconds=59), 11.0),
                (s1, HOUR, 4.0),  # 11:00 sharp is the next hour
                (y1, 2 * HOUR, 22.0),
            ]
        ]
    )
    reading = {**fields(n1.device_id, T0 + 3 * HOUR, 12.5), "soc": None, "temperature": None}
    del reading["device_id"]
    telemetry.record_telemetry_orm(n1.device_id, reading, timezone.now())
    assert (
        rolled_up()
        == scanned()
        == {
            (north.site_id, T0): 9.5,
            (south.site_id, T0): 11.0,
            (south.site_id, T0 + HOUR): 4.0,
            (fleet[1][2].site_id, T0 + 2 * HOUR): 22.0,
            (north.site_id, T0 + 3 * HOUR): 12.5,
        }
    )


def test_a_charger_on_no_site_has_no_peaks_and_a_site_later_brings_none(fleet):
    """Its samples from before are nobody's; those after its assignment are the site's."""
    _, (north, _, _), _ = fleet
    loose = make_charger(None, 99)
    sample(loose, T0, 30.0)
    assert rolled_up() == scanned()
    assert (north.site_id, T0) not in rolled_up()
    provisioning.assign_device(Actor.platform(), loose.device_id, north.site_id)
    assert (north.site_id, T0) not in rolled_up()
    sample(loose, T0 + timedelta(minutes=5), 12.0)
    assert rolled_up()[(north.site_id, T0)] == 12.0
    assert rolled_up() == scanned()


@pytest.mark.django_db(transaction=True)
async def test_the_fast_path_group_commit_feeds_it(charger):
    """Telemetry uploaded over the device API on PostgreSQL: the batched INSERT … SELECT
    unnest(…) of the group-commit writer goes through the trigger too."""
    operator = await sync_to_async(Operator.objects.create)(name="Acme")
    site = await sync_to_async(make_site)(operator, "North")
    units = [await charger() for _ in range(3)]
    for unit in units:
        await sync_to_async(provisioning.assign_device)(
            Actor.platform(), unit.device_id, site.site_id
        )
    uploads = [
        unit.telemetry(timestamp=f"2025-03-15T1{hour}:{minute:02d}:00Z", power=n + minute / 10)
        for n, unit in enumerate(units)
        for hour in (0, 1)
        for minute in range(0, 60, 12)
    ]
    responses = await asyncio.gather(*uploads)
    assert all(r.status_code == 200 for r in responses)
    expected = await sync_to_async(scanned)()
    assert await sync_to_async(rolled_up)() == expected
    assert expected == {(site.site_id, T0): 6.8, (site.site_id, T0 + HOUR): 6.8}


@pytest.mark.django_db(transaction=True)
async def test_concurrent_batches_on_the_same_hours_lose_no_peak():
    """Batches racing on the same (site, hour) rows, each in its own order: every peak
    lands, and none deadlocks (the trigger takes the rows in key order)."""

    def setup() -> list[str]:
        operator = Operator.objects.create(name="Acme")
        sites = [make_site(operator, f"Site {n}") for n in range(3)]
        return [make_charger(sites[n % 3], n).device_id for n in range(12)]

    device_ids = await sync_to_async(setup)()
    shuffle = random.Random(7)
    batches = []
    for b in range(8):
        rows = [
            batch_row(device_id, T0 + minute * timedelta(minutes=7), float(shuffle.randint(1, 350)))
            for device_id in device_ids
            for minute in range(b, 40, 8)
        ]
        shuffle.shuffle(rows)
        batches.append(rows)
    try:
        await asyncio.gather(*(telemetry._write_batch(rows) for rows in batches))
        expected = await sync_to_async(scanned)()
        assert len(expected) == 3 * 5
        assert await sync_to_async(rolled_up)() == expected
    finally:
        await close_pools()
        # The ORM's async bridge has a connection of its own: closed, so the test
        # database can be dropped.
        await sync_to_async(connections.close_all)()


# --- Deleting and editing samples, deleting chargers and sites ----------------------------


def test_deleting_the_peak_sample_recomputes_its_hour(fleet):
    _, (north, _, _), (n1, n2, _, _) = fleet
    peak = sample(n1, T0 + timedelta(minutes=10), 20.0)
    sample(n2, T0 + timedelta(minutes=40), 8.0)
    lonely = sample(n1, T0 + HOUR, 5.0)
    peak.delete()
    assert rolled_up()[(north.site_id, T0)] == 8.0
    lonely.delete()
    assert (north.site_id, T0 + HOUR) not in rolled_up()
    TelemetrySample.objects.filter(power=8.0).delete()
    assert rolled_up() == scanned() == {}


def test_deleting_a_charger_takes_its_peaks_out(fleet):
    """The API must not report the peak of a charger that no longer exists."""
    acme, (north, _, _), (n1, n2, _, _) = fleet
    sample(n1, T0 + timedelta(minutes=10), 20.0)
    sample(n2, T0 + timedelta(minutes=40), 8.0)
    n1.delete()
    assert rolled_up() == scanned() == {(north.site_id, T0): 8.0}
    assert peaks_of(acme.operator_id, "hour", T0, T0 + HOUR) == {"2025-03-15T10:00:00Z": 8.0}


def test_deleting_a_site_keeps_its_history_in_its_operators_report(fleet):
    """The samples keep the site they happened at (history outlives the site), and so
    does the rollup: the operator's report for the past is unchanged."""
    acme, (north, south, _), (n1, n2, s1, _) = fleet
    for device, power in ((n1, 5.0), (n2, 5.0), (s1, 4.0)):
        sample(device, T0, power)
    before = peaks_of(acme.operator_id, "hour", T0, T0 + HOUR, "site")
    north_id = north.site_id
    north.delete()  # its chargers stay, on no site
    with connection.cursor() as cursor:  # the deferred foreign keys, checked now
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert rolled_up() == scanned() == {(north_id, T0): 5.0, (south.site_id, T0): 4.0}
    assert peaks_of(acme.operator_id, "hour", T0, T0 + HOUR, "site") == before
    sample(Device.objects.get(pk=n1.pk), T0 + timedelta(minutes=1), 50.0)  # on no site: nobody's
    assert rolled_up() == scanned() == {(north_id, T0): 5.0, (south.site_id, T0): 4.0}


def test_editing_a_sample_moves_its_peak(fleet):
    _, (north, _, _), (n1, n2, _, _) = fleet
    edited = sample(n1, T0 + timedelta(minutes=10), 20.0)
    sample(n2, T0 + timedelta(minutes=40), 8.0)
    edited.timestamp = T0 + HOUR
    edited.save()
    assert rolled_up() == scanned() == {(north.site_id, T0): 8.0, (north.site_id, T0 + HOUR): 20.0}
    TelemetrySample.objects.filter(pk=edited.pk).update(power=-1.0)
    assert rolled_up() == scanned() == {(north.site_id, T0): 8.0, (north.site_id, T0 + HOUR): 1.0}


# --- A charger changing site ---------------------------------------------------------------


def test_a_moved_charger_leaves_its_peaks_where_they_happened(fleet):
    """Its past stays at its old site (and operator); what it sends after the move counts
    at the new one. No trigger on the charger's site any more: a plain update moves
    nothing either."""
    acme, (north, south, yard), (n1, n2, s1, _) = fleet
    sample(n1, T0 + timedelta(minutes=10), 20.0)  # North's peak at 10:00
    sample(n2, T0 + timedelta(minutes=40), 8.0)
    sample(s1, T0 + timedelta(minutes=30), 11.0)
    sample(n1, T0 + HOUR, 3.0)  # North's only sample at 11:00
    past = {(north.site_id, T0): 20.0, (south.site_id, T0): 11.0, (north.site_id, T0 + HOUR): 3.0}
    provisioning.assign_device(Actor.platform(), n1.device_id, south.site_id)
    assert rolled_up() == scanned() == past
    sample(n1, T0 + HOUR + timedelta(minutes=5), 4.0)  # at South now
    assert rolled_up() == scanned() == {**past, (south.site_id, T0 + HOUR): 4.0}
    by_site = peaks_of(acme.operator_id, "hour", T0, T0 + 2 * HOUR, "site")
    assert by_site == {
        ("2025-03-15T10:00:00Z", north.site_id): 20.0,
        ("2025-03-15T10:00:00Z", south.site_id): 11.0,
        ("2025-03-15T11:00:00Z", north.site_id): 3.0,
        ("2025-03-15T11:00:00Z", south.site_id): 4.0,
    }
    # To another operator's site (here by a plain update, as a bulk edit would): Acme
    # keeps its peaks, the rival gets none of them.
    rival = yard.operator_id
    Device.objects.filter(pk=n1.pk).update(site=yard)
    assert rolled_up() == scanned()
    assert peaks_of(acme.operator_id, "hour", T0, T0 + 2 * HOUR) == {
        "2025-03-15T10:00:00Z": 20.0,
        "2025-03-15T11:00:00Z": 4.0,
    }
    assert peaks_of(rival, "hour", T0, T0 + 2 * HOUR) == {}
    Device.objects.filter(pk=n1.pk).update(site=None)
    assert rolled_up(with_operator=True) == scanned(with_operator=True)


# --- What the report reads -----------------------------------------------------------------


def test_whole_hours_come_from_the_rollup_and_partial_ones_from_the_samples(fleet):
    """Proven by tampering with the rollup: an aligned range reports the tampered value,
    a range cutting the hour reports the samples."""
    acme, (north, _, _), (n1, _, _, _) = fleet
    sample(n1, T0 + timedelta(minutes=10), 20.0)
    sample(n1, T0 + timedelta(minutes=40), 8.0)
    SitePowerPeak.objects.filter(site=north, hour=T0).update(peak=99.0)
    assert peaks_of(acme.operator_id, "hour", T0, T0 + HOUR) == {"2025-03-15T10:00:00Z": 99.0}
    cut = peaks_of(acme.operator_id, "hour", T0 + timedelta(minutes=30), T0 + HOUR)
    assert cut == {"2025-03-15T10:00:00Z": 8.0}
    energy.rebuild_power_peaks()
    assert rolled_up() == scanned()
    assert peaks_of(acme.operator_id, "hour", T0, T0 + HOUR) == {"2025-03-15T10:00:00Z": 20.0}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Cut at both ends: 10:10 and 13:50 are outside although their hours' rollup rows
        # hold them; 10:30 and 13:30 are inside.
        ("2025-03-15T10:20:00Z", "2025-03-15T13:40:00Z",
         {"10": 6.0, "11": 2.0, "12": 3.0, "13": 4.0}),
        # Inside a single hour: no whole hour at all.
        ("2025-03-15T10:20:00Z", "2025-03-15T10:40:00Z", {"10": 6.0}),
        ("2025-03-15T10:00:00Z", "2025-03-15T10:20:00Z", {"10": 50.0}),
        # Starting on the hour, ending inside one; and the reverse.
        ("2025-03-15T10:00:00Z", "2025-03-15T13:40:00Z",
         {"10": 50.0, "11": 2.0, "12": 3.0, "13": 4.0}),
        ("2025-03-15T10:20:00Z", "2025-03-15T14:00:00Z",
         {"10": 6.0, "11": 2.0, "12": 3.0, "13": 40.0}),
    ],
)  # fmt: skip
def test_partial_hours_at_the_edges(fleet, start, end, expected):
    acme, _, (n1, n2, s1, y1) = fleet
    for device, moment, power in [
        (n1, "2025-03-15T10:10:00Z", 50.0),
        (n2, "2025-03-15T10:30:00Z", -6.0),
        (s1, "2025-03-15T11:59:59.999999Z", 2.0),
        (n1, "2025-03-15T12:00:00Z", 3.0),
        (s1, "2025-03-15T13:30:00Z", 4.0),
        (n2, "2025-03-15T13:50:00Z", 40.0),
        (y1, "2025-03-15T12:30:00Z", 99.0),  # another operator's
    ]:
        sample(device, at(moment), power)
    got = peaks_of(acme.operator_id, "hour", at(start), at(end))
    assert got == {f"2025-03-15T{hour}:00:00Z": peak for hour, peak in expected.items()}
    args = (acme.operator_id, "hour", at(start), at(end), None, None)
    in_sql, in_python = both_implementations(*args)
    assert in_sql == in_python


def test_day_and_month_buckets_are_the_max_of_their_hours(fleet):
    acme, (north, south, _), (n1, n2, s1, _) = fleet
    for device, moment, power in [
        (n1, "2025-03-30T23:59:00Z", 5.0),
        (n2, "2025-03-31T00:00:00Z", 7.0),
        (s1, "2025-03-31T12:00:00Z", -12.0),
        (n1, "2025-03-31T23:30:00Z", 6.0),
        (n2, "2025-04-01T00:00:00Z", 9.0),
        (s1, "2025-04-01T06:15:00Z", 3.0),
    ]:
        sample(device, at(moment), power)
    start, end = at("2025-03-30T00:00:00Z"), at("2025-04-02T00:00:00Z")
    assert peaks_of(acme.operator_id, "day", start, end) == {
        "2025-03-30": 5.0, "2025-03-31": 12.0, "2025-04-01": 9.0,
    }  # fmt: skip
    assert peaks_of(acme.operator_id, "month", start, end) == {"2025-03": 12.0, "2025-04": 9.0}
    assert peaks_of(acme.operator_id, "day", start, end, "site") == {
        ("2025-03-30", north.site_id): 5.0,
        ("2025-03-31", north.site_id): 7.0,
        ("2025-03-31", south.site_id): 12.0,
        ("2025-04-01", north.site_id): 9.0,
        ("2025-04-01", south.site_id): 3.0,
    }
    # A day cut at 00:30 and 06:00 on its ends: the cut hours from their samples.
    cut = peaks_of(acme.operator_id, "day", at("2025-03-31T00:30:00Z"), at("2025-04-01T06:00:00Z"))
    assert cut == {"2025-03-31": 12.0, "2025-04-01": 9.0}
    for granularity in ("day", "month"):
        for group_by in (None, "site", "operator"):
            args = (acme.operator_id, granularity, at("2025-03-31T00:30:00Z"), end, group_by, None)
            in_sql, in_python = both_implementations(*args)
            assert in_sql == in_python


def test_a_rebuild_recomputes_it_from_the_samples(fleet):
    """For samples loaded with the triggers off."""
    _, (north, south, _), (n1, _, s1, _) = fleet
    sample(n1, T0, 4.0)
    sample(s1, T0 + HOUR, 6.0)
    SitePowerPeak.objects.all().delete()
    assert energy.rebuild_power_peaks([south.site_id]) == 1
    assert rolled_up() == {(south.site_id, T0 + HOUR): 6.0}
    energy.rebuild_power_peaks()
    assert rolled_up() == scanned() == {(north.site_id, T0): 4.0, (south.site_id, T0 + HOUR): 6.0}


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_the_samples_already_stored():
    from django.db.migrations.executor import MigrationExecutor

    then = [("fleet", "0009_used_signatures")]
    executor = MigrationExecutor(connection)
    executor.migrate(then)
    try:
        # The models as they were at 0009 (samples had no owner stamps then).
        old = executor.loader.project_state(then).apps
        acme = old.get_model("fleet", "Operator").objects.create(name="Acme")
        site = old.get_model("fleet", "Site").objects
        north, south = (
            site.create(operator=acme, name="North"),
            site.create(operator=acme, name="South"),
        )
        charger = old.get_model("fleet", "Device").objects
        n1, s1, loose = (
            charger.create(
                sn=f"SN-PEAK-{n}", model="TP-DC180", manufacturer="Tellus Power",
                firmware_version="3.1.0", secret_hash="unused", secret_expires_at=timezone.now(),
                site=where,
            )
            for n, where in enumerate([north, south, None])
        )  # fmt: skip
        samples = old.get_model("fleet", "TelemetrySample").objects
        for device, moment, power in [
            (n1, T0, 4.0), (n1, T0, -7.0), (s1, T0 + HOUR, 6.0), (loose, T0, 80.0)
        ]:  # fmt: skip
            samples.create(**fields(device.device_id, moment, power))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert rolled_up() == scanned() == {(north.site_id, T0): 7.0, (south.site_id, T0 + HOUR): 6.0}
    sample(Device.objects.get(pk=s1.pk), T0 + HOUR, 9.0)  # and the triggers are in place
    assert rolled_up()[(south.site_id, T0 + HOUR)] == 9.0


# --- Anything, in any order (hypothesis) ---------------------------------------------------

# What happens to the fleet: samples written one by one or in bulk, chargers moved (to a
# site or to none), samples deleted or edited, in any order.
writes = st.tuples(st.integers(0, 3), moments, powers)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("sample"), writes),
        st.tuples(st.just("bulk"), st.lists(writes, min_size=1, max_size=5)),
        st.tuples(st.just("move"), st.tuples(st.integers(0, 3), st.integers(0, 3))),
        st.tuples(st.just("delete"), st.integers(0, 50)),
        st.tuples(st.just("edit"), st.tuples(st.integers(0, 50), moments, powers)),
    ),
    max_size=12,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=actions,
    window=ranges,
    granularity=st.sampled_from(["hour", "day", "month"]),
    group_by=st.sampled_from([None, "site", "operator"]),
)
@pytest.mark.slow
def test_the_rollup_is_always_a_scan_of_the_samples(fleet, steps, window, granularity, group_by):
    acme, sites, chargers = fleet
    with transaction.atomic():
        for kind, detail in steps:
            if kind == "sample":
                device, moment, power = detail
                sample(chargers[device], moment, power)
            elif kind == "bulk":
                TelemetrySample.objects.bulk_create(
                    TelemetrySample(**fields(chargers[device].device_id, moment, power))
                    for device, moment, power in detail
                )
            elif kind == "move":
                device, site = detail  # 3: no site
                Device.objects.filter(pk=chargers[device].pk).update(
                    site=sites[site] if site < 3 else None
                )
            else:
                stored = list(TelemetrySample.objects.order_by("pk"))
                if not stored:
                    continue
                if kind == "delete":
                    stored[detail % len(stored)].delete()
                else:
                    index, moment, power = detail
                    TelemetrySample.objects.filter(pk=stored[index % len(stored)].pk).update(
                        timestamp=moment, power=power
                    )
        assert rolled_up(with_operator=True) == scanned(with_operator=True)
        in_sql, in_python = both_implementations(
            acme.operator_id, granularity, *window, group_by, None
        )
        transaction.set_rollback(True)
    assert in_sql == in_python
