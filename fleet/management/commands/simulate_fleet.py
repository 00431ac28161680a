import asyncio
import json
import logging
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from fleet.models import ChargingRecord, Device
from fleet.services import demo
from fleet.simulator.fleet import FleetOptions, planned_rated_kw, run_fleet
from fleet.simulator.history import HISTORY_DAYS, charger_history
from fleet.simulator.scenarios import SCENARIOS

logger = logging.getLogger("tellus.simulator")
# How often, in simulated seconds, the operator side of `v2g-refused` asks for a discharge.
DISCHARGE_EVERY_SECONDS = 300


class Command(BaseCommand):
    help = (
        "Run simulated Tellus chargers against a server through the public charger API. "
        "Scenarios: " + ", ".join(SCENARIOS)
    )

    def add_arguments(self, parser):
        parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8000")
        parser.add_argument("--chargers", type=int, default=10)
        parser.add_argument("--sites", type=int, default=3, help="with --provision")
        parser.add_argument("--operator", default="Demo Charging", help="with --provision")
        parser.add_argument("--scenario", action="append", default=[], choices=list(SCENARIOS))
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--speed", type=float, default=1.0, help="simulated seconds per real second"
        )
        parser.add_argument("--state-file", type=Path, default=Path("var/simulator.json"))
        parser.add_argument("--duration", type=float, help="real seconds; default: until stopped")
        parser.add_argument(
            "--provision",
            action="store_true",
            help="beside our own server: create the operator and sites, place the chargers "
            "and back-fill their past (--history-days)",
        )
        parser.add_argument(
            "--history-days",
            type=float,
            default=HISTORY_DAYS,
            help="with --provision: days of charging records and telemetry made up once for "
            "each charger, before it registered (0: none)",
        )
        parser.add_argument(
            "--summary-every",
            type=float,
            help="real seconds: print one summary line this often instead of a line per "
            "charger event",
        )
        parser.add_argument(
            "--ready-file",
            type=Path,
            help="touched once the chargers are registered and placed, and their past filled",
        )

    def handle(self, *args, **options):
        if options["chargers"] < 1 or options["speed"] <= 0 or options["sites"] < 1:
            raise CommandError("--chargers and --sites must be at least 1, --speed above 0")
        quiet = options["summary_every"] is not None
        logging.getLogger("tellus.simulator").setLevel(logging.WARNING if quiet else logging.INFO)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
        fleet = FleetOptions(
            base_url=options["base_url"].rstrip("/"),
            chargers=options["chargers"],
            scenarios=options["scenario"],
            seed=options["seed"],
            speed=options["speed"],
            state_file=options["state_file"],
            duration=options["duration"],
        )
        try:
            summary = asyncio.run(self.simulate(fleet, options))
        except ValueError as error:  # an impossible scenario mix
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(summary, sort_keys=True))

    async def simulate(self, fleet: FleetOptions, options) -> dict:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stopping.set)
        ready_file = options["ready_file"]
        if ready_file is not None:
            ready_file.unlink(missing_ok=True)

        async def registered(chargers: list[dict]) -> None:
            client = None
            if options["provision"]:
                client = await sync_to_async(self.provision)(
                    chargers, options["operator"], options["sites"], options
                )
            if ready_file is not None:
                ready_file.parent.mkdir(parents=True, exist_ok=True)
                ready_file.touch()
            if client is not None:
                await self.operate(client, chargers, fleet.speed, stopping)

        report = self.report if options["summary_every"] is not None else None
        try:
            return await run_fleet(
                fleet,
                stopping,
                on_registered=registered,
                report=report,
                report_every=options["summary_every"] or 60.0,
            )
        finally:
            # From the thread that opened it: provisioning's database connection.
            await sync_to_async(connections.close_all)()

    def provision(self, chargers: list[dict], operator: str, site_count: int, options):
        client, secret = demo.ensure_operator_client(operator)
        sites = demo.ensure_sites(client, site_count, planned_rated_kw(len(chargers), site_count))
        moved = demo.place_chargers(chargers, sites)
        announcement = {"operator": operator, "client_id": client.client_id, "placed": moved}
        if secret is not None:
            announcement["client_secret"] = secret
        if options["history_days"] > 0:
            announcement["history"] = self.backfill(
                chargers, options["history_days"], str(options["seed"])
            )
        self.stderr.write(json.dumps(announcement))
        return client

    def backfill(self, chargers: list[dict], days: float, seed: str) -> dict:
        """A past for each charger that has none yet (fleet.simulator.history), ending
        where its live data begins: its registration, and its earliest record's meters."""
        began = time.monotonic()
        filled, records, samples = 0, 0, 0
        for saved in chargers:
            device = Device.objects.filter(device_id=saved["device_id"]).first()
            if device is None or demo.has_history(device):
                continue
            meters = {int(key): float(value) for key, value in saved.get("meters", {}).items()}
            earliest: dict[int, float] = {}  # a live record's meter, where the past ends
            for connector_id, meter_start in (
                ChargingRecord.objects.filter(device=device)
                .order_by("start_time")
                .values_list("connector_id", "meter_start")
            ):
                earliest.setdefault(connector_id, meter_start)
            meters.update(earliest)
            past = charger_history(saved, device.registered_at, days, seed, meters)
            if demo.store_history(device, past.records, past.samples):
                filled += 1
                records += len(past.records)
                samples += len(past.samples)
        return {
            "chargers": filled,
            "days": days,
            "records": records,
            "telemetry_samples": samples,
            "seconds": round(time.monotonic() - began, 1),
        }

    def report(self, status: dict) -> None:
        """One line for the fleet, instead of one per charger event."""
        states = status["connectors"]
        requests = status["requests"]
        errors = sum(
            requests.get(name, 0)
            for name in ("connection_errors", "server_errors", "refused", "chargers_not_started")
        )
        self.stdout.write(
            f"  fleet {datetime.now(UTC):%H:%M:%S} UTC: {status['registered']} of "
            f"{status['chargers']} chargers registered; connectors: "
            f"{states.get('charging', 0)} charging, {states.get('preparing', 0)} preparing, "
            f"{states.get('discharging', 0)} discharging, {states.get('fault', 0)} in fault, "
            f"{states.get('idle', 0)} idle; since start {requests.get('telemetry', 0):,} "
            f"telemetry samples, {requests.get('records_uploaded', 0):,} records, "
            f"{errors:,} failed requests"
        )
        self.stdout.flush()  # a pipe or a file buffers it otherwise

    async def operate(self, client, chargers: list[dict], speed: float, stopping) -> None:
        """The operator's half of the scenarios that need one: discharges asked of the
        `v2g-refused` chargers, through the same service as the operator API."""
        refusing = [c["device_id"] for c in chargers if "v2g-refused" in c.get("scenarios", [])]
        while refusing and not stopping.is_set():
            try:
                queued = await sync_to_async(demo.discharge_where_possible)(client, refusing)
            except Exception:  # the fleet runs on without its discharges
                logger.exception("queuing the demo's discharges failed")
            else:
                for command_id in queued:
                    logger.info("asked for a discharge (%s)", command_id)
            try:
                await asyncio.wait_for(stopping.wait(), DISCHARGE_EVERY_SECONDS / speed)
            except TimeoutError:
                pass
