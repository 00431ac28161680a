"""Database-specific queries, asked the same questions on both databases.

Each case builds a small world with known answers and returns what the product's own
function answers, as plain JSON. tests/test_database_parity.py runs every case in the
test process on PostgreSQL, and all of them at once on the embedded default (SQLite) in a
subprocess: `python -m tests.parity_cases`, with neither DATABASE_URL nor REDIS_URL set
and a temporary TELLUS_VAR_DIR, which migrates a fresh SQLite file and prints the answers.
"""

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import django
from django.apps import apps

if not apps.ready:  # run as a program: set up before the models are imported
    django.setup()

from django.core.management import call_command
from django.db import IntegrityError, transaction

from diagnostics.queries import fault_context
from diagnostics.queries.fault_context import runbooks_for_code
from diagnostics.queries.faults import latest_reporters, reported_codes
from diagnostics.queries.undocumented import latest_events, telemetry_around
from diagnostics.services.loader import load_runbooks
from fleet.actors import Actor
from fleet.errors import Conflict
from fleet.models import (
    ChargingRecord,
    Connector,
    Control,
    Device,
    DeviceEvent,
    TelemetrySample,
)
from fleet.queries.site_detail import site_controls
from fleet.services import provisioning
from fleet.services.energy import aggregated_energy, rebuild_power_peaks

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _fleet() -> dict[str, Any]:
    """Acme with two chargers on two sites, Rival with one; fault events of F-0421 (one
    outside the 30-day window, one by Rival's charger) and of an undocumented code."""

    platform = Actor.platform()
    acme, _ = provisioning.create_operator_client(platform, "Acme Charging", ["read"])
    rival, _ = provisioning.create_operator_client(platform, "Rival Energy", ["read"])
    north = provisioning.create_site(platform, acme.client_id, "North depot")
    south = provisioning.create_site(platform, acme.client_id, "South depot")
    theirs = provisioning.create_site(platform, rival.client_id, "Their depot")
    devices = {}
    for sn, site in (("SN-A1", north), ("SN-A2", south), ("SN-R1", theirs)):
        device, _ = provisioning.register_device(sn, "TP-DC180", "Tellus Power", "3.1.0")
        devices[sn] = provisioning.assign_device(platform, device.device_id, site.site_id)
    for sn, code, age in (
        ("SN-A1", "F-0421", DAY),
        ("SN-A1", "F-0421", 10 * DAY),
        ("SN-A1", "F-0421", 20 * DAY),
        ("SN-A1", "F-0421", 40 * DAY),  # before the window
        ("SN-A2", "F-0421", 2 * DAY),
        ("SN-A2", "X-9", 3 * DAY),  # in no dictionary
        ("SN-R1", "F-0421", DAY),  # another operator's
    ):
        DeviceEvent.objects.create(
            device=devices[sn], connector_id=1, event_type="fault", fault_code=code,
            timestamp=NOW - age,
        )  # fmt: skip
    return {"operator": acme.operator_id, "devices": devices, "sites": [north, south]}


def raised_by_versions() -> dict[str, Callable]:

    return {
        "postgresql": fault_context._raised_by_postgresql,
        "orm": fault_context._raised_by_orm,
        "chosen": fault_context.raised_by,
    }


def case_raised_by(version: str = "chosen") -> list:
    world = _fleet()
    rows = raised_by_versions()[version](world["operator"], "F-0421", NOW - 30 * DAY, NOW - 7 * DAY)
    return sorted(
        [row.sn, row.site_name, row.recent, row.count, row.last_seen.isoformat()] for row in rows
    )


def case_reported_codes() -> list:

    _fleet()
    return reported_codes(10)


def case_latest_reporters() -> dict:

    world = _fleet()
    serial = {device.device_id: sn for sn, device in world["devices"].items()}
    found = latest_reporters(world["operator"], ["F-0421", "X-9", "F-0204"], NOW - 30 * DAY, 5)
    return {code: [serial[device_id] for device_id in ids] for code, ids in found.items()}


def case_latest_events() -> dict:

    world = _fleet()
    serial = {device.device_id: sn for sn, device in world["devices"].items()}
    found = latest_events(world["operator"], ["F-0421", "X-9", "F-0204"], NOW - 30 * DAY, 2)
    return {
        code: [[serial[event.device_id], event.timestamp.isoformat()] for event in events]
        for code, events in found.items()
    }


def case_telemetry_around() -> dict:
    """A report on connector 1 with samples around it (some outside the 5 minutes, one
    on connector 2, one stamped with Rival), and one on connector 0 (the whole charger):
    the seconds from the report of each sample kept, with its connector."""

    world = _fleet()
    device = world["devices"]["SN-A1"]
    rival = world["devices"]["SN-R1"].site.operator_id
    moment = NOW - DAY
    for connector_id, seconds, operator in (
        (1, -400, None),
        (1, -240, None),
        (1, -5, None),
        (1, 0, None),
        (1, 30, None),
        (1, 290, None),
        (1, 310, None),
        (2, 10, None),
        (1, 20, rival),
    ):
        TelemetrySample.objects.create(
            device=device, connector_id=connector_id, timestamp=moment + timedelta(seconds=seconds),
            state="charging", voltage=400.0, current=20.0, power=8.0, energy_delivered=1.0,
            operator_id=operator or world["operator"], site_id=device.site_id,
        )  # fmt: skip
    for connector_id in (1, 2):
        Connector.objects.create(device=device, connector_id=connector_id)
    events = [
        DeviceEvent.objects.create(
            device=device,
            connector_id=connector_id,
            event_type="fault",
            fault_code="X-7",
            timestamp=moment,
        )
        for connector_id in (1, 0)
    ]
    found = telemetry_around(world["operator"], events)
    return {
        f"connector {event.connector_id}": [
            [sample.connector_id, sample.offset.total_seconds()] for sample in found[event.pk]
        ]
        for event in events
    }


def case_runbooks_for_code() -> dict:

    load_runbooks()
    return {
        code: [runbook.slug for runbook in runbooks_for_code(code)]
        for code in ("F-0421", "F-0702", "X-9")
    }


def case_energy() -> dict:
    """One charger, one two-hour session of 20 kWh (peak 11 kW) from 10:00, and samples of
    15 kW at 10:30 and -22 kW at 11:15: hourly buckets of 10 kWh, peaks 15 and 22 kW."""

    world = _fleet()
    device = world["devices"]["SN-A1"]
    start = NOW.replace(hour=10)
    ChargingRecord.objects.create(
        record_id="rec-1", device=device, connector_id=1, start_time=start,
        end_time=start + timedelta(hours=2), energy=20.0, max_power=11.0, avg_power=10.0,
        meter_start=100.0, meter_end=120.0,
    )  # fmt: skip
    for minutes, power in ((30, 15.0), (75, -22.0)):
        TelemetrySample.objects.create(
            device=device, connector_id=1, timestamp=start + timedelta(minutes=minutes),
            state="charging", voltage=400.0, current=power * 2.5, power=power,
            energy_delivered=1.0,
        )  # fmt: skip
    rebuild_power_peaks()  # a no-op on SQLite; on PostgreSQL the triggers' result again
    answer = aggregated_energy(world["operator"], "hour", start, start + timedelta(hours=2))
    return {
        "series": [
            [p["time"], p["charge_energy"], p["max_power"], p["avg_power"]]
            for p in answer["series"]
        ],
        "total": answer["total"],
    }


def case_site_controls() -> dict:
    """Controls name sites in a JSON list (containment is PostgreSQL's): each site finds
    the controls that name it, and "site_1" does not find "site_10"'s."""
    world = _fleet()
    north, south = world["sites"]
    for command, targets in (
        ("limit_power", [north.site_id, south.site_id]),
        ("pause", [south.site_id]),
        ("resume", [south.site_id + "0"]),
    ):
        Control.objects.create(
            operator_id=world["operator"], target_type="site", target_ids=targets,
            command=command, params={},
        )  # fmt: skip
    return {
        site.name: sorted(c.command for c in site_controls(world["operator"], site.site_id))
        for site in (north, south)
    }


def case_serial_letter_case() -> dict:
    """A serial is taken whatever its letter case (a unique index on upper(sn), which
    SQLite folds for ASCII), and releasing it finds it whatever the case."""
    first, _ = provisioning.register_device("SN-Case-7", "TP-DC180", "Tellus Power", "3.1.0")
    refused = []
    for variant in ("sn-case-7", "SN-CASE-7", "SN-Case-7"):
        try:
            provisioning.register_device(variant, "TP-AC22", "Whoever", "0.0.1")
        except Conflict:
            refused.append(variant)
    try:
        with transaction.atomic():
            Device.objects.create(
                sn="sN-cAsE-7", model="x", manufacturer="x", firmware_version="x",
                secret_hash="x", secret_expires_at=NOW,
            )  # fmt: skip
        database_refused = False
    except IntegrityError:
        database_refused = True
    released = provisioning.release_serial(Actor.platform(), "SN-CASE-7")
    again, _ = provisioning.register_device("SN-CASE-7", "TP-DC180", "Tellus Power", "3.1.0")
    return {
        "refused": refused,
        "database_refused": database_refused,
        "released": [released["sn"], released["device_id"] == first.device_id],
        "registered": sorted(Device.objects.values_list("sn", flat=True)) == [again.sn],
    }


CASES: dict[str, Callable[[], Any]] = {
    "raised_by": case_raised_by,
    "reported_codes": case_reported_codes,
    "latest_reporters": case_latest_reporters,
    "latest_events": case_latest_events,
    "telemetry_around": case_telemetry_around,
    "runbooks_for_code": case_runbooks_for_code,
    "energy": case_energy,
    "site_controls": case_site_controls,
    "serial_letter_case": case_serial_letter_case,
}


def run_case(name: str) -> Any:
    """One case in a transaction that is rolled back: the next case starts empty."""

    with transaction.atomic():
        answer = json.loads(json.dumps(CASES[name]()))
        transaction.set_rollback(True)
    return answer


def main() -> None:
    call_command("migrate", verbosity=0, interactive=False)
    sys.stdout.write(json.dumps({name: run_case(name) for name in CASES}))


if __name__ == "__main__":
    main()
