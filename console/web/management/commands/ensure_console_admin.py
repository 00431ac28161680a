import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from console.web.demo_logins import SUPERUSER, logins_file, read_logins, save_logins
from fleet.actors import Actor
from fleet.services import audit


class Command(BaseCommand):
    help = (
        "Create the console superuser 'admin' with a random password if no superuser "
        "exists yet, and print the password once (with --keep-password, `make run`'s: also "
        "keep it in TELLUS_VAR_DIR/console-logins.json, readable by you only)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep-password", action="store_true")

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_superuser(SUPERUSER, "", password)
            audit.record_change(
                Actor.cli(),
                action="create",
                subject=audit.subject_of(user),
                before=None,
                after=audit.snapshot(user),
                details={"via": "manage.py ensure_console_admin"},
            )
        if options["keep_password"]:
            saved = read_logins(settings.VAR_DIR)
            saved[SUPERUSER] = password
            save_logins(settings.VAR_DIR, saved)
            kept = f"kept in {logins_file(settings.VAR_DIR)}"
        else:
            kept = "shown once"
        self.stdout.write(
            f"Console superuser created: admin / {password}  "
            f"({kept}; change it with `python manage.py changepassword admin`)"
        )
