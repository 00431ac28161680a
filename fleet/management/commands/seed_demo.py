from django.core.management.base import BaseCommand

from fleet.secrets_box import unseal
from fleet.services import demo


class Command(BaseCommand):
    help = (
        "Make sure the demo operator exists, with an API client and its sites (idempotent), "
        "and print the client's credentials."
    )

    def add_arguments(self, parser):
        parser.add_argument("--operator", default="Demo Charging")
        parser.add_argument("--sites", type=int, default=3)

    def handle(self, *args, **options):
        client, secret = demo.ensure_operator_client(options["operator"])
        sites = demo.ensure_sites(client, max(1, options["sites"]))
        # A demo convenience: the sealed copy (kept for request signing) is shown again on
        # every start, so the partner walkthrough works on a rerun too.
        secret = secret or unseal(client.secret_sealed) or "(unreadable: rotate_client_secret)"
        self.stdout.write(
            f"  demo operator {client.operator.name!r}: {len(sites)} sites, API client "
            f"{client.client_id} / {secret}"
        )
