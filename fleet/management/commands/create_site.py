from django.core.management.base import BaseCommand

from fleet.actors import Actor
from fleet.management.commands._output import run_provisioning
from fleet.services.provisioning import create_site


class Command(BaseCommand):
    help = "Create a site owned by the operator of CLIENT_ID; prints its site_id."

    def add_arguments(self, parser):
        parser.add_argument("client_id")
        parser.add_argument("name")
        parser.add_argument("--address", default="")
        parser.add_argument("--lat", type=float)
        parser.add_argument("--lng", type=float)
        parser.add_argument("--power-capacity", type=float, help="Installed capacity in kW.")

    def handle(self, *args, **options):
        def create():
            site = create_site(
                Actor.cli(),
                options["client_id"],
                options["name"],
                address=options["address"],
                lat=options["lat"],
                lng=options["lng"],
                power_capacity=options["power_capacity"],
                details={"via": "manage.py create_site"},
            )
            return {"site_id": site.site_id}

        run_provisioning(self, create)
