from django.core.management.base import BaseCommand

from fleet.management.commands._output import audit_cli_change, run_provisioning
from fleet.models import Device
from fleet.services import audit
from fleet.services.provisioning import assign_device


class Command(BaseCommand):
    help = "Assign a registered device to a site, making it visible to the site's operator."

    def add_arguments(self, parser):
        parser.add_argument("device_id")
        parser.add_argument("site_id")
        parser.add_argument("--v2g", action="store_true", help="Mark the device V2G-capable.")

    def handle(self, *args, **options):
        def assign():
            stored = Device.objects.filter(device_id=options["device_id"]).first()
            before = audit.snapshot(stored) if stored else None
            operator_before = audit.operator_id_of(stored)
            device = assign_device(
                options["device_id"], options["site_id"], True if options["v2g"] else None
            )
            audit_cli_change("assign_device", device, before, operator_before)
            return {"device_id": device.device_id, "site_id": device.site_id}

        run_provisioning(self, assign)
