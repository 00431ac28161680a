from django.core.management.base import BaseCommand

from fleet.actors import Actor
from fleet.management.commands._output import run_provisioning
from fleet.services.provisioning import release_serial


class Command(BaseCommand):
    help = (
        "Remove the registration holding a serial number (letter case aside), so the charger "
        "that really carries it can register. Refuses a charger on a site or with history "
        "unless --force (which deletes that history too)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "sn", help="the serial number, exactly as registered if several differ in case"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="also release a charger that is on a site or has history (deleted with it)",
        )

    def handle(self, *args, **options):
        def release():
            return release_serial(Actor.cli(), options["sn"], force=options["force"])

        run_provisioning(self, release)
