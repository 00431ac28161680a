from django.core.management.base import BaseCommand

from fleet.actors import Actor
from fleet.management.commands._output import run_provisioning
from fleet.services.provisioning import rotate_client_secret


class Command(BaseCommand):
    help = "Give an API client a new secret; tokens issued before stop working."

    def add_arguments(self, parser):
        parser.add_argument("client_id")

    def handle(self, *args, **options):
        def rotate():
            client, secret = rotate_client_secret(Actor.cli(), options["client_id"])
            return {"client_id": client.client_id, "client_secret": secret}

        run_provisioning(self, rotate)
