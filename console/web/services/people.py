"""Console users and their roles: provisioning from the command line, and an operator
admin managing the users of their own operator. Every change is audited.

Usernames are one namespace for the whole platform, so an operator's admin names people
inside their operator's own part of it: "carla" typed on the People page of Acme Charging
becomes the sign-in name "carla@acme-charging". Whether a name is taken is then a
question about their own operator's people only (whom the page lists anyway), never a way
to learn the usernames of another operator's people.
"""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from console.web.models import OperatorMember
from console.web.roles import Role
from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.models import Operator
from fleet.services import audit

USERNAME_MAX = 150


def _check_username(username: str) -> None:
    if not username or len(username) > USERNAME_MAX:
        raise InvalidParameter(
            "username", username[:40], f"A username has 1 to {USERNAME_MAX} characters"
        )
    try:  # also refuses NUL and every other control character
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise InvalidParameter(
            "username", username[:40], "A username has letters, digits and @/./+/-/_ only"
        ) from None


def _check_role(role: str) -> Role:
    if role not in Role.values:
        raise InvalidParameter("role", role, f"The role is one of {', '.join(Role.values)}")
    return Role(role)


def _check_password(password: str, user) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise InvalidParameter(
            "password", None, "The password is refused: " + " ".join(error.messages)
        ) from None


def sign_in_domains() -> dict[str, str]:
    """Each operator's part of the username namespace (what follows "@" in the names its
    admins give): its name in lower case with hyphens, and the start of its id where
    another operator's name reads the same, so no two operators share one."""
    names = dict(Operator.objects.values_list("operator_id", "name"))
    slugs = {pk: slugify(name)[:40] or "operator" for pk, name in names.items()}
    taken = list(slugs.values())
    return {
        pk: slug if taken.count(slug) == 1 else f"{slug}-{pk.removeprefix('op_')[:6]}"
        for pk, slug in slugs.items()
    }


def _check_namespace(username: str, operator: Operator) -> None:
    """A name ending in another operator's "@domain" would sit in that operator's part of
    the namespace (and its admins would find it taken): refused."""
    if "@" not in username:
        return
    domain = username.rsplit("@", 1)[1].lower()
    for operator_id, theirs in sign_in_domains().items():
        if theirs == domain and operator_id != operator.operator_id:
            raise InvalidParameter(
                "username", username[:40], f"Names ending in @{domain} are another operator's"
            )


def add_member(
    actor: Actor, name: str, operator: Operator, role: str, *, password: str | None = None
) -> tuple[object, str]:
    """An operator's admin adding a person: `name` (without "@") becomes the sign-in name
    `name@<the operator's domain>`; as create_console_user otherwise."""
    if "@" in name:
        raise InvalidParameter(
            "username", name[:40], "Give the name without @: the part after it is added for you"
        )
    domain = sign_in_domains()[operator.operator_id]
    room = USERNAME_MAX - len(domain) - 1
    if not name or len(name) > room:
        raise InvalidParameter("username", name[:40], f"A name here has 1 to {room} characters")
    return create_console_user(
        actor,
        f"{name}@{domain}",
        operator.name,
        role,
        password=password,
        details={"via": "console"},
    )


def create_console_user(
    actor: Actor,
    username: str,
    operator_name: str,
    role: str,
    *,
    password: str | None = None,
    details: dict | None = None,
) -> tuple[object, str]:
    """A console user working for the operator named `operator_name`, with `role`; returns
    the user and the password (generated when none is given; shown once, stored hashed)."""
    _check_username(username)
    role = _check_role(role)
    operator = Operator.objects.filter(name=operator_name).first()
    if operator is None:
        raise NotFound(f"Operator '{operator_name}' not found")
    _check_namespace(username, operator)
    User = get_user_model()
    candidate = User(username=username)
    if password is None:
        password = secrets.token_urlsafe(12)
    else:
        _check_password(password, candidate)
    try:
        with transaction.atomic():
            if User.objects.filter(username__iexact=username).exists():
                raise Conflict(f"User '{username}' already exists", {"field": "username"})
            user = User.objects.create_user(username=username, password=password)
            member = OperatorMember.objects.create(user=user, operator=operator, role=role)
            _audit(actor, "create", [(user, None), (member, None)], operator.operator_id, details)
    except IntegrityError:  # the same name created concurrently
        raise Conflict(f"User '{username}' already exists", {"field": "username"}) from None
    return user, password


def members(operator_id: str) -> QuerySet[OperatorMember]:
    """The operator's console users with their accounts, by username (one query)."""
    return (
        OperatorMember.objects.filter(operator_id=operator_id)
        .select_related("user")
        .order_by("user__username", "user_id")
    )


def member(operator_id: str, user_id: int) -> OperatorMember:
    """One of the operator's console users; another operator's is not found, as if none."""
    found = members(operator_id).filter(user_id=user_id).first()
    if found is None:
        raise NotFound(f"User {user_id} not found")
    return found


def _member(operator_id: str, user_id: int) -> OperatorMember:
    member = (
        OperatorMember.objects.select_for_update()
        .select_related("user")
        .filter(operator_id=operator_id, user_id=user_id)
        .first()
    )
    if member is None:
        raise NotFound(f"User {user_id} not found")
    return member


def change_member(
    actor: Actor,
    operator_id: str,
    user_id: int,
    *,
    role: str | None = None,
    active: bool | None = None,
) -> OperatorMember:
    """Change a user's role or switch their access off or on, within one operator. An
    admin cannot demote or lock out themselves, and the operator always keeps at least
    one admin with access (someone must be left to undo it): the operator's admins are
    locked first, so two admins switching each other off at once are taken in turn and
    the second is refused."""
    with transaction.atomic():
        admins = list(
            OperatorMember.objects.select_for_update()
            .filter(operator_id=operator_id, role=Role.ADMIN)
            .order_by("pk")
            .values_list("user_id", flat=True)
        )
        member = _member(operator_id, user_id)
        if actor.user_id == user_id and (role not in (None, Role.ADMIN) or active is False):
            raise Conflict("You cannot lower your own role or switch off your own access")
        loses_admin = member.role == Role.ADMIN and (
            active is False or role not in (None, Role.ADMIN)
        )
        if loses_admin and member.user.is_active:
            others = get_user_model().objects.filter(
                pk__in=[pk for pk in admins if pk != user_id], is_active=True
            )
            if not others.exists():
                raise Conflict(
                    f"{member.user.get_username()} is the last admin with access, and someone "
                    "must be able to manage people: make another person admin first",
                    {"field": "role" if active is None else "access"},
                )
        before_member, before_user = audit.snapshot(member), audit.snapshot(member.user)
        if role is not None:
            member.role = _check_role(role)
            member.save(update_fields=["role"])
        if active is not None:
            member.user.is_active = active
            member.user.save(update_fields=["is_active"])
        _audit(actor, "update", [(member, before_member), (member.user, before_user)], operator_id)
    return member


def _audit(
    actor: Actor, action: str, changes: list, operator_id: str, details: dict | None = None
) -> None:
    """One entry per (record, its snapshot before) in the operator's trail."""
    for record, before in changes:
        audit.record_change(
            actor,
            action=action,
            subject=audit.subject_of(record),
            before=before,
            after=audit.snapshot(record),
            operator_ids=[operator_id],
            details=details,
        )
