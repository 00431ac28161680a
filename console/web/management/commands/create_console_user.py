from django.core.management.base import BaseCommand

from console.web.roles import Role
from console.web.services.people import create_console_user
from fleet.actors import Actor
from fleet.management.commands._output import run_provisioning


class Command(BaseCommand):
    help = (
        "Create a console user working for OPERATOR_NAME with a role; prints "
        '{"username", "password", "operator", "role"} (the password is generated unless given).'
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--operator", required=True, help="the operator's name")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="default: a generated one, printed once")

    def handle(self, *args, **options):
        def create():
            user, password = create_console_user(
                Actor.cli(),
                options["username"],
                options["operator"],
                options["role"],
                password=options["password"],
                details={"via": "manage.py create_console_user"},
            )
            return {
                "username": user.get_username(),
                "password": password,
                "operator": options["operator"],
                "role": options["role"],
            }

        run_provisioning(self, create)
