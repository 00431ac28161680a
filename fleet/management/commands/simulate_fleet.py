import asyncio
import json
import logging
import signal
from pathlib import Path

from asgiref.sync import sync_to_async
from django.core.management.base import BaseCommand, CommandError

from fleet.services import demo
from fleet.simulator.fleet import FleetOptions, run_fleet
from fleet.simulator.scenarios import SCENARIOS


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
                await sync_to_async(self.provision)(chargers, options["operator"], options["sites"])

        return await run_fleet(fleet, stopping, on_registered=provision)

    def provision(self, chargers: list[dict], operator: str, site_count: int) -> None:
        client, secret = demo.ensure_operator_client(operator)
        sites = demo.ensure_sites(client, site_count)
        moved = demo.place_chargers(chargers, sites)
        announcement = {"operator": operator, "client_id": client.client_id, "placed": moved}
        if secret is not None:
            announcement["client_secret"] = secret
        self.stderr.write(json.dumps(announcement))
