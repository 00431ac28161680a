from django.core.management.base import BaseCommand

from fleet.actors import Actor
from fleet.management.commands._output import run_provisioning
from fleet.services.provisioning import assign_device


class Command(BaseCommand):
    help = "Assign a registered device to a site, making it visible to the site's operator."

    def add_arguments(self, parser):
        parser.add_argument("device_id")
        parser.add_argument("site_id")
        parser.add_argument("--v2g", action="store_true", help="Mark the device V2G-capable.")

    def handle(self, *args, **options):
        def assign():
            device = assign_device(
                Actor.cli(),
                options["device_id"],
                options["site_id"],
                True if options["v2g"] else None,
                details={"via": "manage.py assign_device"},
            )
            return {"device_id": device.device_id, "site_id": device.site_id}

        run_provisioning(self, assign)
