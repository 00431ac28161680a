"""Console users: provisioned from the command line with a role, managed by an operator's
admin, every change audited; the demo's users for `make run`."""

import json
import stat

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from console.web.models import OperatorMember
from console.web.services.people import change_member, create_console_user
from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.models import AuditEntry

pytestmark = pytest.mark.django_db


def run(*args) -> dict:
    from io import StringIO

    out = StringIO()
    call_command("create_console_user", *args, stdout=out)
    return json.loads(out.getvalue())


def test_the_command_prints_the_user_with_a_generated_password(acme):
    printed = run("anna", "--operator", "Acme Charging", "--role", "engineer")
    assert set(printed) == {"username", "password", "operator", "role"}
    assert (printed["username"], printed["operator"], printed["role"]) == (
        "anna", "Acme Charging", "engineer",
    )  # fmt: skip
    user = get_user_model().objects.get(username="anna")
    assert user.check_password(printed["password"])
    assert not user.is_staff
    member = OperatorMember.objects.get(user=user)
    assert (member.operator_id, member.role) == (acme.operator_id, "engineer")
    entries = AuditEntry.objects.filter(action="create", operator_id=acme.operator_id)
    assert {e.resource_type for e in entries} >= {"user", "console_member"}


def test_a_given_password_is_used(acme):
    printed = run(
        "bob", "--operator", "Acme Charging", "--role", "viewer", "--password", "long-enough-pass-9"
    )
    assert printed["password"] == "long-enough-pass-9"
    assert get_user_model().objects.get(username="bob").check_password("long-enough-pass-9")


@pytest.mark.parametrize(
    "args, message",
    [
        (["anna", "--operator", "Nobody", "--role", "viewer"], "not found"),
        (
            ["anna", "--operator", "Acme Charging", "--role", "viewer", "--password", "123"],
            "password",
        ),
        (["an na", "--operator", "Acme Charging", "--role", "viewer"], "username"),
        (["a\x00b", "--operator", "Acme Charging", "--role", "viewer"], "username"),
    ],
)
def test_bad_input_fails_on_stderr_and_creates_nothing(acme, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not get_user_model().objects.exists()


def test_an_unknown_role_is_refused(acme):
    with pytest.raises(CommandError):
        run("anna", "--operator", "Acme Charging", "--role", "superhero")
    with pytest.raises(InvalidParameter):
        create_console_user(Actor.platform(), "anna", "Acme Charging", "superhero")


def test_a_taken_username_in_any_case_is_a_conflict(acme):
    run("anna", "--operator", "Acme Charging", "--role", "viewer")
    with pytest.raises(CommandError, match="already exists"):
        run("ANNA", "--operator", "Acme Charging", "--role", "admin")
    assert get_user_model().objects.count() == 1


def test_an_admin_changes_roles_and_access_within_their_operator(acme, make_client):
    admin, _ = create_console_user(Actor.platform(), "boss", "Acme Charging", "admin")
    anna, _ = create_console_user(Actor.platform(), "anna", "Acme Charging", "viewer")
    make_client("Rival Energy")
    rival, _ = create_console_user(Actor.platform(), "rex", "Rival Energy", "viewer")
    actor = Actor.for_user(admin, acme.operator_id)

    change_member(actor, acme.operator_id, anna.pk, role="operator", active=False)
    member = OperatorMember.objects.select_related("user").get(user=anna)
    assert (member.role, member.user.is_active) == ("operator", False)
    entry = AuditEntry.objects.filter(resource_type="console_member", action="update").get()
    assert (entry.before["role"], entry.after["role"]) == ("viewer", "operator")

    with pytest.raises(NotFound):  # another operator's user: as if there were none
        change_member(actor, acme.operator_id, rival.pk, role="admin")
    with pytest.raises(Conflict):  # nobody left to undo it
        change_member(actor, acme.operator_id, admin.pk, role="viewer")
    with pytest.raises(InvalidParameter):
        change_member(actor, acme.operator_id, anna.pk, role="root")


def test_the_demo_users_are_made_once_and_their_logins_printed_each_time(
    settings, tmp_path, capsys
):
    settings.VAR_DIR = tmp_path
    call_command("seed_console_users", "--operator", "Demo Charging")
    first = capsys.readouterr().out
    call_command("seed_console_users", "--operator", "Demo Charging")
    assert capsys.readouterr().out == first

    saved = json.loads((tmp_path / "console-logins.json").read_text())
    assert stat.S_IMODE((tmp_path / "console-logins.json").stat().st_mode) == 0o600
    roles = dict(OperatorMember.objects.values_list("user__username", "role"))
    assert roles == {
        "demo-viewer": "viewer", "demo-engineer": "engineer",
        "demo-operator": "operator", "demo-admin": "admin",
    }  # fmt: skip
    for username, password in saved.items():
        assert get_user_model().objects.get(username=username).check_password(password)
        assert f"{username}" in first and password in first


def test_the_last_admin_with_access_cannot_be_switched_off_or_demoted(acme):
    boss, _ = create_console_user(Actor.platform(), "boss", "Acme Charging", "admin")
    bert, _ = create_console_user(Actor.platform(), "bert", "Acme Charging", "admin")
    staff = Actor.platform()
    change_member(staff, acme.operator_id, bert.pk, active=False)
    for change in ({"active": False}, {"role": "operator"}):
        with pytest.raises(Conflict, match="last admin with access"):
            change_member(staff, acme.operator_id, boss.pk, **change)
    # Switched off, bert is no longer the admin who could undo it either.
    with pytest.raises(Conflict, match="last admin with access"):
        change_member(Actor.for_user(bert, acme.operator_id), acme.operator_id, boss.pk,
                      active=False)  # fmt: skip
    boss.refresh_from_db()
    assert boss.is_active and OperatorMember.objects.get(user=boss).role == "admin"
    change_member(staff, acme.operator_id, bert.pk, active=True)
    change_member(staff, acme.operator_id, boss.pk, role="viewer")  # bert is left


def test_a_name_in_another_operators_domain_is_refused(acme, make_client):
    make_client("Rival Energy")
    with pytest.raises(InvalidParameter, match="another operator"):
        create_console_user(Actor.platform(), "spy@acme-charging", "Rival Energy", "viewer")
    user, _ = create_console_user(
        Actor.platform(), "carla@acme-charging", "Acme Charging", "viewer"
    )
    assert user.get_username() == "carla@acme-charging"
