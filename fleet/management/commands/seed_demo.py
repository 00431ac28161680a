from django.core.management.base import BaseCommand

from fleet.secrets_box import unseal
from fleet.services import demo
from fleet.simulator.fleet import planned_rated_kw


class Command(BaseCommand):
    help = (
        "Make sure the demo operator exists, with an API client and its sites (idempotent): "
        "each site with an address and a grid capacity sized for the simulated chargers it "
        "will hold (filled in where missing, never overwritten); print the client's "
        "credentials."
    )

    def add_arguments(self, parser):
        parser.add_argument("--operator", default="Demo Charging")
        parser.add_argument("--sites", type=int, default=3)
        parser.add_argument(
            "--chargers", type=int, default=50, help="the simulated fleet the sites are sized for"
        )

    def handle(self, *args, **options):
        client, secret = demo.ensure_operator_client(options["operator"])
        count = max(1, options["sites"])
        rated = planned_rated_kw(max(1, options["chargers"]), count)
        sites = demo.ensure_sites(client, count, rated)
        # A demo convenience: the sealed copy (kept for request signing) is shown again on
        # every start, so the partner walkthrough works on a rerun too.
        secret = secret or unseal(client.secret_sealed) or "(unreadable: rotate_client_secret)"
        self.stdout.write(
            f"  demo operator {client.operator.name!r}: {len(sites)} sites, API client "
            f"{client.client_id} / {secret}"
        )
