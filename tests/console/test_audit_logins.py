"""Console sign-ins, failed sign-ins and sign-outs are in the trail of the user's
operator, with the address they came from; platform staff land in no operator's trail."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from console.web.models import OperatorMember
from fleet.models import AuditEntry

pytestmark = pytest.mark.django_db

ADDRESS = "203.0.113.7"


@pytest.fixture
def engineer(acme):
    user = get_user_model().objects.create_user("engineer", password="pw-for-tests-1")
    OperatorMember.objects.create(user=user, operator=acme[0].operator)
    return user


def sign_in(client, username: str, password: str = "pw-for-tests-1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ADDRESS)


def audit_list(api, token: str, **filters) -> list[dict]:
    response = api.get("/v1/operator/audit-logs", token, **filters)
    assert response.status_code == 200, response.content
    return response.json()["data"]["items"]


def test_a_login_shows_in_the_operators_audit_list(api, client, acme, engineer):
    assert sign_in(client, "engineer").status_code == 302

    [entry] = audit_list(api, acme[1], action="login")
    assert entry["actor"] == "user:engineer"
    assert entry["operator_id"] == acme[0].operator_id
    assert (entry["resource_type"], entry["resource_id"]) == ("user", str(engineer.pk))
    assert entry["ip"] == ADDRESS


def test_a_failed_login_shows_without_the_password(api, client, acme, engineer):
    assert sign_in(client, "engineer", "wrong-password").status_code == 200

    [entry] = audit_list(api, acme[1], action="login_failed")
    assert (entry["actor"], entry["resource_id"], entry["ip"]) == (
        "user:engineer",
        str(engineer.pk),
        ADDRESS,
    )
    stored = AuditEntry.objects.get(action="login_failed")
    assert "wrong-password" not in json.dumps([stored.details, stored.before, stored.after])


def test_a_logout_shows_in_the_operators_audit_list(api, client, acme, engineer):
    sign_in(client, "engineer")
    client.post("/logout/", REMOTE_ADDR=ADDRESS)

    [entry] = audit_list(api, acme[1], action="logout")
    assert (entry["actor"], entry["ip"]) == ("user:engineer", ADDRESS)


def test_platform_staff_and_unknown_names_are_in_no_operators_trail(api, client, acme, engineer):
    get_user_model().objects.create_user("staff", password="pw-for-tests-1")
    sign_in(client, "staff")
    sign_in(client, "nobody", "guess")

    staff = AuditEntry.objects.get(action="login", actor="user:staff")
    assert staff.operator_id is None and staff.ip == ADDRESS
    unknown = AuditEntry.objects.get(action="login_failed", actor="user:nobody")
    assert (unknown.operator_id, unknown.resource_id) == (None, "")
    assert audit_list(api, acme[1], resource_type="user") == []


def test_another_operator_never_sees_the_login(
    api, client, acme, engineer, make_client, operator_token
):
    sign_in(client, "engineer")
    rival = operator_token(*make_client("Rival"))
    assert audit_list(api, rival, resource_type="user") == []
    assert len(audit_list(api, acme[1], action="login")) == 1


def test_the_first_superuser_is_recorded_without_its_password(capsys):
    call_command("ensure_console_admin")
    password = capsys.readouterr().out.split("admin / ")[1].split()[0]

    entry = AuditEntry.objects.get(action="create", resource_type="user")
    assert entry.actor.startswith("cli:") and entry.operator_id is None
    assert entry.after["username"] == "admin" and entry.after["is_superuser"] is True
    assert entry.after["password"] == "[redacted]"
    assert password not in json.dumps(entry.after)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("engi\x00neer", "pw-for-tests-1"),
        ("engineer", "pw\x00"),
        ("\x00", "\x00"),
        ("x" * 10_000, "y"),
    ],
)
def test_hostile_sign_in_input_is_a_form_error_not_a_crash(client, engineer, username, password):
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 200  # the form again, with its errors
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session
