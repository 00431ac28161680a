from django.core.management.base import BaseCommand

from fleet.actors import Actor
from fleet.management.commands._output import run_provisioning
from fleet.services.provisioning import create_operator_client


class Command(BaseCommand):
    help = "Create an operator API client (and the operator, if new); prints its credentials."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Operator name; created if it does not exist.")
        parser.add_argument("--scopes", default="read", help="Comma-separated: read,write.")
        parser.add_argument("--legacy-callback-url", default="", help="Peer's legacy base URL.")
        parser.add_argument(
            "--require-signed-writes",
            action="store_true",
            help="Refuse this client's write requests unless HMAC-signed.",
        )

    def handle(self, *args, **options):
        def create():
            client, secret = create_operator_client(
                Actor.cli(),
                options["name"],
                options["scopes"].split(","),
                options["legacy_callback_url"],
                options["require_signed_writes"],
                details={"via": "manage.py create_operator_client"},
            )
            return {
                "operator": client.operator.name,
                "client_id": client.client_id,
                "client_secret": secret,
                "scopes": client.scopes,
            }

        run_provisioning(self, create)
