from django.core.management.base import BaseCommand

from fleet.actors import Actor
from fleet.management.commands._output import run_provisioning
from fleet.services.provisioning import reset_device_credentials


class Command(BaseCommand):
    help = "Issue a new secret to a charger that lost its own; its old tokens stop working."

    def add_arguments(self, parser):
        parser.add_argument("device_id")

    def handle(self, *args, **options):
        def reset():
            device, secret = reset_device_credentials(Actor.cli(), options["device_id"])
            return {"device_id": device.device_id, "device_secret": secret}

        run_provisioning(self, reset)
