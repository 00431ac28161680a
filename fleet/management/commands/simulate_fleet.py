import asyncio
import json
import logging
import signal
from pathlib import Path

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from fleet.services import demo
from fleet.simulator.fleet import FleetOptions, run_fleet
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
            help="beside our own server: create the operator and sites and place the chargers",
        )

    def handle(self, *args, **options):
        if options["chargers"] < 1 or options["speed"] <= 0 or options["sites"] < 1:
            raise CommandError("--chargers and --sites must be at least 1, --speed above 0")
        logging.getLogger("tellus.simulator").setLevel(logging.INFO)
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
        provision = None
        if options["provision"]:

            async def provision(chargers: list[dict]) -> None:
                client = await sync_to_async(self.provision)(
                    chargers, options["operator"], options["sites"]
                )
                await self.operate(client, chargers, fleet.speed, stopping)

        try:
            return await run_fleet(fleet, stopping, on_registered=provision)
        finally:
            # From the thread that opened it: provisioning's database connection.
            await sync_to_async(connections.close_all)()

    def provision(self, chargers: list[dict], operator: str, site_count: int):
        client, secret = demo.ensure_operator_client(operator)
        sites = demo.ensure_sites(client, site_count)
        moved = demo.place_chargers(chargers, sites)
        announcement = {"operator": operator, "client_id": client.client_id, "placed": moved}
        if secret is not None:
            announcement["client_secret"] = secret
        self.stderr.write(json.dumps(announcement))
        return client

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
