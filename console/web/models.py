from django.conf import settings
from django.db import models

from console.web.roles import Role


class OperatorMember(models.Model):
    """A console user who works for an operator. Users without one are platform staff.

    Their logins and admin changes go to that operator's audit trail.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_member"
    )
    operator = models.ForeignKey(
        "fleet.Operator", on_delete=models.CASCADE, related_name="console_members"
    )
    # Memberships from before roles existed are viewers until an admin raises them.
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        verbose_name = "operator membership"

    def __str__(self) -> str:
        return f"{self.user} @ {self.operator}"


def operator_id_for(user) -> str | None:
    """The operator a console user works for; None for platform staff and strangers."""
    if user is None or not getattr(user, "pk", None):
        return None
    return (
        OperatorMember.objects.filter(user_id=user.pk).values_list("operator_id", flat=True).first()
    )


class ConsoleProfile(models.Model):
    """A console user's own settings: the time zone every page shows times in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_profile"
    )
    # An IANA name (console.web.times.zone_names); UTC until the user chooses another.
    time_zone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return f"{self.user}: times in {self.time_zone}"


class SessionGeneration(models.Model):
    """How many times a user's sessions have been ended (switched off, password set by
    staff). A session remembers the number it began under; on a session store that
    cannot be searched for a user's sessions (cache, signed cookies) one from an older
    generation is refused (console/web/sessions.py)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="session_generation",
    )
    number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.user}: sessions of generation {self.number}"
