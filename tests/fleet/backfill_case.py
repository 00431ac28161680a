"""Migration 0014's back-fill, as one case both databases run: facts stored before the
migration (with the models of 0013) get the operator, and where kept the site, owning
their charger today; a charger on no site leaves them nobody's. `python -m
tests.fleet.backfill_case` runs it on the database the environment names (the embedded
default's SQLite in tests) and prints the answer as JSON."""

import json
from datetime import UTC, datetime

BEFORE = [("fleet", "0013_event_recent_faults")]
T0 = datetime(2025, 3, 15, 10, tzinfo=UTC)

# Per fact table: the stamps of the placed charger's row and of the loose one's.
EXPECTED = {
    "telemetrysample": [["Acme", "North"], [None, None]],
    "deviceevent": [["Acme", "North"], [None, None]],
    "chargingrecord": [["Acme", "North"], [None, None]],
    "connectivitychange": [["Acme"], [None]],
    "firmwareupdate": [["Acme"], [None]],
    "peaks": [["Acme", "North", 7.0]],
}


def run(connection) -> dict:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        _store_old_facts(old)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    return _stamps()


def _store_old_facts(old) -> None:
    model = lambda name: old.get_model("fleet", name).objects  # noqa: E731
    acme = model("Operator").create(name="Acme")
    north = model("Site").create(operator=acme, name="North")
    placed, loose = (
        model("Device").create(
            sn=f"SN-BACKFILL-{n}", model="TP-DC180", manufacturer="Tellus Power",
            firmware_version="3.1.0", secret_hash="unused", secret_expires_at=T0, site=site,
        )
        for n, site in enumerate([north, None])
    )  # fmt: skip
    for device, power in ((placed, -7.0), (loose, 80.0)):
        model("TelemetrySample").create(
            device=device, connector_id=1, timestamp=T0, state="charging", voltage=230.0,
            current=16.0, power=power, energy_delivered=1.0,
        )  # fmt: skip
        model("DeviceEvent").create(
            device=device, connector_id=1, event_type="fault", timestamp=T0, fault_code="F-0411"
        )
        model("ChargingRecord").create(
            device=device, record_id="r1", connector_id=1, start_time=T0, end_time=T0,
            energy=1.0, max_power=1.0, avg_power=1.0, meter_start=0.0, meter_end=1.0,
            upload_digest="d",
        )  # fmt: skip
        model("ConnectivityChange").create(device=device, status="online", at=T0)
        model("FirmwareUpdate").create(device=device, firmware_version="3.2.0")


def _stamps() -> dict:
    from django.db import connection

    from fleet.models import (
        ChargingRecord,
        ConnectivityChange,
        DeviceEvent,
        FirmwareUpdate,
        Operator,
        Site,
        SitePowerPeak,
        TelemetrySample,
    )

    operators = dict(Operator.objects.values_list("operator_id", "name"))
    sites = dict(Site.objects.values_list("site_id", "name"))

    def named(model, with_site: bool) -> list[list]:
        rows = model.objects.order_by("device__sn").values_list(
            "operator_id", *(["site_id"] if with_site else [])
        )
        return [
            [operators.get(row[0])] + ([sites.get(row[1])] if with_site else []) for row in rows
        ]

    peaks = [
        [operators.get(p.operator_id), sites.get(p.site_id), p.peak]
        for p in SitePowerPeak.objects.all()
    ]
    answer = {
        "telemetrysample": named(TelemetrySample, True),
        "deviceevent": named(DeviceEvent, True),
        "chargingrecord": named(ChargingRecord, True),
        "connectivitychange": named(ConnectivityChange, False),
        "firmwareupdate": named(FirmwareUpdate, False),
        # The rollup is PostgreSQL's (SQLite computes peaks from the samples).
        "peaks": peaks if connection.vendor == "postgresql" else EXPECTED["peaks"],
    }
    return answer


if __name__ == "__main__":
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", "fleet", BEFORE[0][1], verbosity=0)
    print(json.dumps(run(connection)))
