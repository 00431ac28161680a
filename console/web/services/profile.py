"""A console user's own settings: the time zone every page shows times in. A person
changes only their own; nothing of the operator's changes, so nothing is audited."""

from console.web.models import ConsoleProfile
from console.web.times import zone_named
from fleet.actors import Actor
from fleet.errors import InvalidParameter, PermissionDenied


def set_time_zone(actor: Actor, user, name: str) -> ConsoleProfile:
    """Show `user` every time in the IANA zone `name` from now on."""
    if actor.kind != "user" or actor.user_id != user.pk:
        raise PermissionDenied("A person chooses their own time zone")
    if zone_named(name) is None:
        raise InvalidParameter(
            "time_zone", str(name)[:40], "Choose a time zone from the list, such as Europe/Paris"
        )
    profile, _ = ConsoleProfile.objects.update_or_create(user=user, defaults={"time_zone": name})
    user.console_profile = profile
    return profile
