"""The demo's first start: its sites have an address and a grid capacity, and each
simulated charger gets a few days of plausible past (charging records and telemetry), once,
ending where its live data begins, so the energy report, the records and the charts have
something to show from the first minute."""

import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from api.schemas.reporting import ChargingRecordUpload, TelemetryUpload
from fleet.actors import Actor
from fleet.management.commands.simulate_fleet import Command as SimulateFleet
from fleet.models import AuditEntry, ChargingRecord, Device, Site, SitePowerPeak, TelemetrySample
from fleet.services import demo, provisioning
from fleet.services.energy import aggregated_energy, rebuild_power_peaks
from fleet.simulator import history
from fleet.simulator.fleet import FLEET_MIX, planned_rated_kw
from fleet.simulator.history import STEP_SECONDS, charger_history
from fleet.simulator.physics import MODELS

END = datetime(2026, 3, 16, 9, 30, tzinfo=UTC)


def state_entry(index: int, meter: float = 20_000.0) -> dict:
    model = FLEET_MIX[index % len(FLEET_MIX)][0]
    connectors = FLEET_MIX[index % len(FLEET_MIX)][2]
    return {
        "sn": f"SIM-HIST{index:04d}",
        "model": model,
        "firmware_version": "3.1.0",
        "connectors": connectors,
        "meters": {str(n): meter + n for n in range(1, connectors + 1)},
    }


# --- the made-up past itself ---------------------------------------------------------------


@pytest.mark.parametrize("index", range(len(FLEET_MIX)))
def test_a_chargers_past_is_physically_plausible(index):
    saved = state_entry(index)
    meters = {int(n): value for n, value in saved["meters"].items()}
    past = charger_history(saved, END, days=5, seed="1", meters=meters)
    _, rated_kw, _ = MODELS[saved["model"]]
    per_connector_kw = rated_kw / saved["connectors"]

    assert len(past.records) >= 5 * saved["connectors"]  # in use every day
    by_connector = defaultdict(list)
    for record in past.records:
        ChargingRecordUpload.model_validate(record)  # what the charger API accepts
        by_connector[record["connector_id"]].append(record)
        hours = (record["end_time"] - record["start_time"]).total_seconds() / 3600
        assert END - timedelta(days=5) <= record["start_time"] < record["end_time"] < END
        assert 0 < record["max_power"] <= per_connector_kw  # the rating shared by connectors
        assert record["energy"] <= record["max_power"] * hours + 0.01
        assert record["avg_power"] == pytest.approx(record["energy"] / hours, abs=0.01)
        assert record["meter_end"] - record["meter_start"] == pytest.approx(record["energy"])
        soc = record["vehicle_info"]
        assert soc["soc_start"] < soc["soc_end"] <= 100
    for connector_id, records in by_connector.items():
        records.sort(key=lambda r: r["start_time"])
        for before, after in pairwise(records):
            assert before["end_time"] < after["start_time"]  # one vehicle at a time
            assert before["meter_end"] == pytest.approx(after["meter_start"])  # no gap
        # The meter ends where the live charger's begins.
        assert records[-1]["meter_end"] == pytest.approx(meters[connector_id], abs=0.002)

    for sample in past.samples:
        TelemetryUpload.model_validate({k: v for k, v in sample.items() if v is not None})
        assert END - timedelta(days=5) <= sample["timestamp"] < END
        assert 0 <= sample["power"] <= per_connector_kw
        assert (sample["power"] > 0) == (sample["state"] == "charging")


def test_energy_is_the_integral_of_the_power_and_soc_rises_during_a_session(monkeypatch):
    # Sampled each minute throughout (as in the last hour of a real back-fill), every
    # minute's power is in the samples.
    monkeypatch.setattr(history, "RECENT_SAMPLES", timedelta(days=6))
    saved = state_entry(0)
    past = charger_history(saved, END, days=5, seed="7", meters={1: 9_000.0, 2: 9_000.0})
    samples = defaultdict(list)
    for sample in past.samples:
        samples[sample["connector_id"]].append(sample)
    for record in past.records:
        during = [
            s
            for s in samples[record["connector_id"]]
            if record["start_time"] < s["timestamp"] <= record["end_time"]
            and s["state"] == "charging"
        ]
        minutes = (record["end_time"] - record["start_time"]).total_seconds() / STEP_SECONDS
        assert len(during) == minutes, record["record_id"]
        integral = sum(s["power"] * STEP_SECONDS / 3600 for s in during)
        assert integral == pytest.approx(record["energy"], abs=0.001)
        # The last sample carries the session's whole energy; SOC only rises.
        assert during[-1]["energy_delivered"] == pytest.approx(record["energy"], abs=0.001)
        socs = [s["soc"] for s in during]
        assert socs == sorted(socs)
        assert max(s["power"] for s in during) == record["max_power"]
    assert len(past.records) > 10


def test_a_session_reports_its_last_minute_even_between_samples():
    past = charger_history(state_entry(1), END, days=5, seed="3", meters={})
    ends = {(s["connector_id"], s["timestamp"]) for s in past.samples if s["state"] == "charging"}
    for record in past.records:
        assert (record["connector_id"], record["end_time"]) in ends


def test_the_past_is_bounded_in_size():
    """About a thousand samples a charger a day, whatever the model."""
    for index in range(len(FLEET_MIX)):
        past = charger_history(state_entry(index), END, days=5, seed="1", meters={})
        assert len(past.samples) < 5 * 1_500
        assert len(past.records) < 5 * 2 * 15


# --- sites -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_sites_get_an_address_a_location_and_a_capacity_sized_for_their_chargers():
    client, _ = demo.ensure_operator_client("Demo Charging")
    rated = planned_rated_kw(50, 3)

    sites = demo.ensure_sites(client, 3, rated)

    for site, rated_kw in zip(sites, rated, strict=True):
        assert site.address and site.lat is not None and site.lng is not None
        # Less than every charger at full power at once, more than half of it.
        assert 0.5 * rated_kw < site.power_capacity < rated_kw
        assert site.power_capacity % 50 == 0
    assert len({site.address for site in sites}) == 3
    assert demo.ensure_sites(client, 3, rated) == sites  # a rerun adds none


@pytest.mark.django_db
def test_an_earlier_install_gets_what_it_lacks_and_keeps_what_an_operator_set():
    client, _ = demo.ensure_operator_client("Demo Charging")
    bare = provisioning.create_site(Actor.cli(), client.client_id, "Demo Charging site 1")
    kept = provisioning.create_site(
        Actor.cli(), client.client_id, "Demo Charging site 2", "Our own yard", power_capacity=400.0,
    )  # fmt: skip

    call_command("seed_demo", "--chargers", "50", stdout=None)

    bare.refresh_from_db()
    kept.refresh_from_db()
    assert bare.address and bare.power_capacity and bare.lat is not None
    assert (kept.address, kept.power_capacity) == ("Our own yard", 400.0)
    assert kept.lat is not None  # only the location was missing
    assert Site.objects.filter(operator=client.operator).count() == 3
    filled = AuditEntry.objects.filter(resource_id=bare.site_id, action="update").get()
    assert filled.operator_id == client.operator_id
    assert "power_capacity" in filled.after


# --- the back-fill ---------------------------------------------------------------------------


@pytest.fixture
def demo_fleet(db):
    """Eight registered chargers of the fleet mix, placed on the demo's three sites."""
    client, _ = demo.ensure_operator_client("Demo Charging")
    sites = demo.ensure_sites(client, 3, planned_rated_kw(8, 3))
    chargers = []
    for index in range(8):
        saved = state_entry(index)
        device, _ = provisioning.register_device(
            saved["sn"], saved["model"], "Tellus Power", "3.1.0"
        )
        saved["device_id"] = device.device_id
        chargers.append(saved)
    demo.place_chargers(chargers, sites)
    return client, sites, chargers


@pytest.mark.django_db(transaction=True)
def test_the_backfill_fills_days_of_records_and_telemetry_once(demo_fleet):
    client, sites, chargers = demo_fleet
    command = SimulateFleet()

    done = command.backfill(chargers, days=3, seed="1")
    again = command.backfill(chargers, days=3, seed="1")

    assert done["chargers"] == 8 and done["records"] > 0 and done["telemetry_samples"] > 0
    assert again["chargers"] == 0  # a second `make run` adds nothing
    assert ChargingRecord.objects.count() == done["records"]
    assert TelemetrySample.objects.count() == done["telemetry_samples"]
    for device in Device.objects.all():
        days = {
            t.date()
            for t in TelemetrySample.objects.filter(device=device).values_list(
                "timestamp", flat=True
            )
        }
        assert len(days) >= 3  # every day of the window, up to its registration
        assert not TelemetrySample.objects.filter(
            device=device, timestamp__gte=device.registered_at
        ).exists()
        assert not ChargingRecord.objects.filter(
            device=device, end_time__gt=device.registered_at
        ).exists()

    now = timezone.now()
    report = aggregated_energy(
        client.operator_id, "day", now - timedelta(days=4), now, group_by="site"
    )
    charged = defaultdict(float)
    for point in report["series"]:
        charged[point["site_id"]] += point["charge_energy"]
    assert all(charged[site.site_id] > 0 for site in sites)
    assert report["total"]["max_power"] > 0


@pytest.mark.django_db(transaction=True)
def test_the_backfill_keeps_the_hourly_peak_rollup_exact(demo_fleet):
    _, sites, chargers = demo_fleet
    SimulateFleet().backfill(chargers, days=2, seed="1")
    if connection.vendor != "postgresql":
        pytest.fail("the rollup exists on PostgreSQL, where the suite runs")
    kept = set(SitePowerPeak.objects.values_list("site_id", "hour", "peak"))

    rebuild_power_peaks([site.site_id for site in sites])  # from the samples alone

    assert kept and set(SitePowerPeak.objects.values_list("site_id", "hour", "peak")) == kept


@pytest.mark.django_db(transaction=True)
def test_a_past_reaching_into_the_live_data_is_refused(demo_fleet):
    _, _, chargers = demo_fleet
    device = Device.objects.get(device_id=chargers[0]["device_id"])
    past = charger_history(chargers[0], device.registered_at + timedelta(hours=1), 1, "1", {})

    with pytest.raises(ValueError, match="before the charger registered"):
        demo.store_history(device, past.records, past.samples)
    assert not TelemetrySample.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_backfill_caught_in_a_deadlock_with_a_live_upload_is_written_all_the_same(demo_fleet):
    """A live upload on the same site holds the hour the past ends in and then wants the
    hour it starts in, which the back-fill holds: PostgreSQL aborts one of the two (here
    the back-fill: its deadlock check comes first), and the back-fill runs again once the
    upload is through."""
    if connection.vendor != "postgresql":
        pytest.fail("the peak rollup's row locks exist on PostgreSQL, where the suite runs")
    _, _, chargers = demo_fleet
    device = Device.objects.get(device_id=chargers[0]["device_id"])
    neighbour = Device.objects.get(device_id=chargers[3]["device_id"])  # same site, 8 on 3
    assert neighbour.site_id == device.site_id
    past = charger_history(chargers[0], device.registered_at, 1, "1", {})
    first, last = past.samples[0]["timestamp"], past.samples[-1]["timestamp"]
    holding, backfill_waiting = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def upload(at: datetime) -> None:
        TelemetrySample.objects.create(
            device=neighbour, operator_id=neighbour.site.operator_id, site=neighbour.site,
            connector_id=1, timestamp=at, state="charging", voltage=400.0, current=100.0,
            power=40.0, energy_delivered=1.0,
        )  # fmt: skip

    def live_upload() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:  # the back-fill is to find the cycle
                    cursor.execute("SET LOCAL deadlock_timeout = '20s'")
                upload(last)
                holding.set()
                backfill_waiting.wait(10)
                upload(first)
            outcome["upload"] = "committed"
        finally:
            connection.close()

    def backfill() -> None:
        holding.wait(10)
        with connection.cursor() as cursor:  # checks once the upload waits too (at 1.5 s)
            cursor.execute("SET deadlock_timeout = '3s'")
        try:
            outcome["stored"] = demo.store_history(device, past.records, past.samples)
        finally:
            connection.close()

    threads = [threading.Thread(target=live_upload), threading.Thread(target=backfill)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # the back-fill is blocked on the hour the upload holds by now
    backfill_waiting.set()
    for thread in threads:
        thread.join(60)

    assert outcome == {"upload": "committed", "stored": True}
    stored = TelemetrySample.objects.filter(device=device).count()
    assert stored == len(past.samples)
