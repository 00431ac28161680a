from django.core.management.base import BaseCommand

from fleet.management.commands._output import run_provisioning
from fleet.services.provisioning import reseal_client_secrets


class Command(BaseCommand):
    help = (
        "Seal every stored client secret under the newest key of TELLUS_ENCRYPTION_KEYS; "
        "lists the clients whose secret no configured key opens."
    )

    def handle(self, *args, **options):
        run_provisioning(self, reseal_client_secrets)
