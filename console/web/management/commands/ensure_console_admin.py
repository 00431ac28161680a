import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from fleet.actors import Actor
from fleet.services import audit


class Command(BaseCommand):
    help = (
        "Create the console superuser 'admin' with a random password if no superuser "
        "exists yet, and print the password once."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        with transaction.atomic():
            user = User.objects.create_superuser("admin", "", password)
            audit.record_change(
                actor=Actor.cli(),
                action="create",
                subject=audit.subject_of(user),
                before=None,
                after=audit.snapshot(user),
                details={"via": "manage.py ensure_console_admin"},
            )
        self.stdout.write(
            f"Console superuser created: admin / {password}  "
            "(shown once; change it with `python manage.py changepassword admin`)"
        )
