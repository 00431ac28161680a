from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console.web.demo_logins import logins_file, read_logins, save_logins
from console.web.roles import Role
from console.web.services.people import create_console_user
from fleet.actors import Actor
from fleet.services.demo import ensure_operator_client


class Command(BaseCommand):
    help = (
        "For `make run`: one console user per role (demo-viewer … demo-admin) working for "
        "OPERATOR, created once with generated passwords kept in TELLUS_VAR_DIR/"
        "console-logins.json (readable by you only); prints the logins on every run "
        "(unless --quiet: `make run` prints them last, once everything is up)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--operator", default="Demo Charging")
        parser.add_argument("--quiet", action="store_true", help="keep the logins, print none")

    def handle(self, *args, **options):
        operator = options["operator"]
        ensure_operator_client(operator)  # the operator, and the client the demo fleet uses
        saved = read_logins(settings.VAR_DIR)
        User = get_user_model()
        for role in Role.values:
            username = f"demo-{role}"
            if not User.objects.filter(username=username).exists():
                _, saved[username] = create_console_user(
                    Actor.cli(), username, operator, role,
                    details={"via": "manage.py seed_console_users"},
                )  # fmt: skip
        # Readable by its owner only before a password is written into it.
        save_logins(settings.VAR_DIR, saved)
        if options["quiet"]:
            kept = logins_file(settings.VAR_DIR)
            self.stdout.write(f"  console logins for {operator}: kept in {kept}")
            return
        self.stdout.write(f"  console logins for {operator}:")
        for role in Role.values:
            username = f"demo-{role}"
            password = saved.get(
                username, "(set earlier: manage.py changepassword " + username + ")"
            )
            self.stdout.write(f"    {role:<9} {username:<14} {password}")
