from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console.web.models import operator_id_for
from console.web.signin import normal_name, unlock
from fleet.actors import Actor
from fleet.management.commands._output import run_provisioning
from fleet.services import audit


class Command(BaseCommand):
    help = (
        "Lift a sign-in lock-out: the username's failure count (and with --address, that "
        'address\'s counts too); prints {"unlocked", "address"}. Audited.'
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--address", help="also the counts of this address")

    def handle(self, *args, **options):
        def lift():
            username, address = options["username"], options["address"] or None
            unlock(username, address)
            User = get_user_model()
            user = User._default_manager.filter(username__iexact=username.strip()).first()
            audit.record(
                Actor.cli(),
                action="unlock_sign_in",
                resource_type="user",
                resource_id=str(user.pk) if user is not None else "",
                operator_id=operator_id_for(user),
                details={"username": normal_name(username), "address": address},
            )
            return {"unlocked": normal_name(username), "address": address}

        run_provisioning(self, lift)
