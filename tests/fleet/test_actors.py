"""One Actor for everyone who changes data: the labels the audit trail has always stored,
the actors built from API and console requests, and what an audit entry keeps of each."""

import importlib
import inspect
import pkgutil

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from console.web.actors import actor_from_console_request
from console.web.models import OperatorMember
from fleet.actors import Actor, actor_from_request, request_ip
from fleet.services import audit
from fleet.services.auth import OperatorPrincipal

ADDRESS = "198.51.100.23"


@pytest.fixture
def ops_shell(monkeypatch):
    monkeypatch.setattr("fleet.actors.getpass.getuser", lambda: "ops")


def test_each_kind_is_labelled_as_the_trail_always_was(ops_shell):
    assert Actor.for_client(OperatorPrincipal("cli_1", "opr_1", ("write",))).label == (
        "client:cli_1"
    )
    user = get_user_model()(pk=7, username="ann")
    assert Actor.for_user(user, "opr_1").label == "user:ann"
    assert Actor.cli().label == "cli:ops"
    assert Actor.platform().label == "platform"
    assert Actor.platform("opr_1").label == "platform"


def test_a_shell_without_a_login_name_is_an_unknown_cli_user(monkeypatch):
    def no_login_name():
        raise KeyError("getpwuid(): uid not found")

    monkeypatch.setattr("fleet.actors.getpass.getuser", no_login_name)
    assert Actor.cli().label == "cli:unknown"


def test_a_client_actor_carries_its_operator_and_issues_commands_as_the_client():
    principal = OperatorPrincipal("cli_1", "opr_1", ("write",))
    actor = Actor.for_client(principal, "192.0.2.1")
    assert actor.command_fields() == {
        "operator_id": "opr_1",
        "issued_by_client_id": "cli_1",
        "issued_by_user_id": None,
        "issued_from": "192.0.2.1",
    }


def test_a_user_actor_issues_commands_as_the_user():
    user = get_user_model()(pk=7, username="ann")
    actor = Actor.for_user(user, "opr_1", "192.0.2.2")
    assert (actor.kind, actor.user_id, actor.username) == ("user", 7, "ann")
    assert actor.command_fields()["issued_by_user_id"] == 7
    assert actor.command_fields()["issued_by_client_id"] is None


def test_an_api_request_is_acted_on_by_its_authenticated_client():
    request = RequestFactory().post("/v1/operator/x", REMOTE_ADDR=ADDRESS)
    request.auth = OperatorPrincipal("cli_1", "opr_1", ("write",))
    assert actor_from_request(request) == Actor(
        "client", operator_id="opr_1", client_id="cli_1", ip=ADDRESS
    )


def test_the_address_is_read_as_every_audited_path_reads_it():
    assert request_ip(RequestFactory().get("/", REMOTE_ADDR=ADDRESS)) == ADDRESS
    assert request_ip(RequestFactory().get("/", REMOTE_ADDR="")) is None
    assert request_ip(None) is None


@pytest.mark.django_db
def test_a_console_request_is_acted_on_by_the_user_for_their_operator(make_client):
    client, _ = make_client("Acme Charging")
    users = get_user_model().objects
    engineer = users.create_user("engineer", password="pw-for-tests-1")
    OperatorMember.objects.create(user=engineer, operator=client.operator)
    staff = users.create_user("staff", password="pw-for-tests-1", is_staff=True)

    request = RequestFactory().post("/admin/", REMOTE_ADDR=ADDRESS)
    request.user = engineer
    assert actor_from_console_request(request) == Actor(
        "user", operator_id=client.operator_id, user_id=engineer.pk, username="engineer",
        ip=ADDRESS,
    )  # fmt: skip
    request.user = staff
    actor = actor_from_console_request(request)
    assert (actor.label, actor.operator_id) == ("user:staff", None)


def actors(operator_id: str) -> dict[str, Actor]:
    return {
        "client": Actor("client", operator_id=operator_id, client_id="cli_1", ip=ADDRESS),
        "user": Actor("user", operator_id=operator_id, user_id=None, username="ann", ip=ADDRESS),
        "cli": Actor("cli", username="ops"),
        "platform": Actor.platform(),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("client", "client:cli_1"),
        ("user", "user:ann"),
        ("cli", "cli:ops"),
        ("platform", "platform"),
    ],
)
def test_an_entry_stores_the_actors_label_address_and_operator(make_client, kind, label):
    actor = actors(make_client("Acme Charging")[0].operator_id)[kind]
    entry = audit.record(actor, action="update", resource_type="site", resource_id="s1")
    entry.refresh_from_db()
    assert (entry.actor, entry.ip, entry.operator_id) == (label, actor.ip, actor.operator_id)


@pytest.mark.django_db
def test_the_resources_operator_wins_and_an_explicit_none_stays_platform_wide(make_client):
    acme, rival = make_client("Acme Charging")[0], make_client("Rival Charging")[0]
    actor = Actor.for_client(acme, ADDRESS)

    shell = audit.record(
        Actor("cli", username="ops"), action="reset_credentials", resource_type="device",
        resource_id="dvc_1", operator_id=rival.operator_id,
    )  # fmt: skip
    platform_wide = audit.record(
        actor, action="update", resource_type="fault_code", resource_id="F-0101",
        operator_id=None,
    )  # fmt: skip
    assert (shell.actor, shell.operator_id) == ("cli:ops", rival.operator_id)
    assert (platform_wide.operator_id, platform_wide.ip) == (None, ADDRESS)


SERVICE_PACKAGES = ("fleet.services", "diagnostics.services", "console.web.services")


def functions_taking_an_actor():
    """(name, signature) of every function of the service modules with an `actor`
    parameter; Django signal receivers keep the receiver's own shape (`sender` first,
    the rest by keyword, as the signal sends them)."""
    for package_name in SERVICE_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            module = importlib.import_module(info.name)
            for name, function in inspect.getmembers(module, inspect.isfunction):
                if function.__module__ != module.__name__:
                    continue
                signature = inspect.signature(function)
                if "actor" in signature.parameters and "sender" not in signature.parameters:
                    yield f"{info.name}.{name}", signature


def test_every_service_takes_its_actor_first_and_positional():
    found = dict(functions_taking_an_actor())
    assert "fleet.services.commands.queue_command" in found
    assert "console.web.services.people.add_member" in found
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    for name, signature in found.items():
        first = next(iter(signature.parameters.values()))
        assert (first.name, first.kind in positional, first.default) == (
            "actor",
            True,
            inspect.Parameter.empty,
        ), f"{name}{signature}"
