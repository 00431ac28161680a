"""The audit trail itself: what an entry holds, what it never holds, and the provisioning
commands that change credentials and ownership."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from fleet.actors import Actor
from fleet.errors import TellusError
from fleet.models import ApiClient, AuditEntry, Device, Site
from fleet.services import audit, provisioning

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_shell(monkeypatch):
    """Management commands run by the OS user `ops`."""
    monkeypatch.setattr("fleet.actors.getpass.getuser", lambda: "ops")


def run(*args: str) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def stored_text(entry: AuditEntry) -> str:
    return json.dumps([entry.actor, entry.details, entry.before, entry.after])


def test_the_original_keywords_still_write_an_entry(acme):
    actor = Actor("client", operator_id=acme[0].operator_id, client_id="c1", ip="192.0.2.1")
    entry = audit.record(
        actor, action="execute_command", resource_type="device", resource_id="dvc_1",
        details={"command": "reboot"},
    )  # fmt: skip
    entry.refresh_from_db()
    assert entry.details == {"command": "reboot"}
    assert (entry.before, entry.after, entry.ip) == (None, None, "192.0.2.1")


def test_secrets_are_redacted_at_any_depth_but_facts_about_them_are_kept():
    entry = audit.record(
        Actor.platform(), action="update", resource_type="client", resource_id="c1",
        details={"request": {"client_secret": "sk_live", "scopes": ["read"]}},
        before={"secret_hash": "h1", "secret_version": 1, "password": "p"},
        after={"secret_hash": "h2", "secret_version": 2, "token": "t"},
    )  # fmt: skip
    assert entry.details == {"request": {"client_secret": "[redacted]", "scopes": ["read"]}}
    assert entry.before == {
        "secret_hash": "[redacted]",
        "secret_version": 1,
        "password": "[redacted]",
    }
    assert entry.after == {"secret_hash": "[redacted]", "secret_version": 2, "token": "[redacted]"}


def test_a_change_that_changes_nothing_is_not_recorded(acme):
    client = acme[0]
    entries_before = AuditEntry.objects.count()
    snapshot = audit.snapshot(client)
    assert audit.record_change(
        Actor.platform(), action="update", subject=audit.subject_of(client),
        before=snapshot, after=snapshot, operator_ids=[client.operator_id],
    ) == []  # fmt: skip
    assert AuditEntry.objects.count() == entries_before


def test_the_operator_of_a_record_is_found_through_its_owners(acme, assigned_device):
    device = assigned_device(acme[0])
    assert audit.operator_id_of(acme[0]) == acme[0].operator_id
    assert audit.operator_id_of(device.site) == acme[0].operator_id
    assert audit.operator_id_of(device) == acme[0].operator_id
    assert audit.operator_id_of(Device(sn="unassigned")) is None


def test_rotating_a_secret_from_the_shell_is_recorded_by_the_os_user(ops_shell, acme):
    client, old_secret = acme.client, acme.secret
    result = run("rotate_client_secret", client.client_id)
    client.refresh_from_db()

    entry = AuditEntry.objects.get(action="rotate_secret")
    assert (entry.actor, entry.operator_id) == ("cli:ops", client.operator_id)
    assert (entry.before["secret_version"], entry.after["secret_version"]) == (1, 2)
    for secret in (old_secret, result["client_secret"], client.secret_hash, client.secret_sealed):
        assert secret not in stored_text(entry)


def test_rotating_a_secret_in_code_is_recorded_by_the_platform(acme):
    provisioning.rotate_client_secret(Actor.platform(), acme[0].client_id)
    assert AuditEntry.objects.get(action="rotate_secret").actor == "platform"


def test_resetting_device_credentials_from_the_shell_is_recorded(ops_shell, acme, assigned_device):
    device = assigned_device(acme[0])
    result = run("reset_device_credentials", device.device_id)
    device.refresh_from_db()

    entry = AuditEntry.objects.get(action="reset_credentials")
    assert (entry.actor, entry.operator_id) == ("cli:ops", acme[0].operator_id)
    assert (entry.resource_type, entry.resource_id) == ("device", device.device_id)
    assert (entry.before["credential_version"], entry.after["credential_version"]) == (1, 2)
    assert result["device_secret"] not in stored_text(entry)
    assert device.secret_hash not in stored_text(entry)


def test_creating_a_client_from_the_shell_is_recorded_without_its_secret(ops_shell):
    result = run("create_operator_client", "Acme Charging", "--scopes", "read,write")
    client = ApiClient.objects.get(client_id=result["client_id"])

    entry = AuditEntry.objects.get(action="create", resource_type="client")
    assert (entry.actor, entry.operator_id, entry.resource_id) == (
        "cli:ops",
        client.operator_id,
        client.client_id,
    )
    assert entry.before is None
    assert entry.after["scopes"] == ["read", "write"]
    assert entry.details == {"via": "manage.py create_operator_client"}
    assert result["client_secret"] not in stored_text(entry)
    assert client.secret_hash not in stored_text(entry)


def test_creating_a_site_and_assigning_a_device_from_the_shell_are_recorded(
    ops_shell, acme, register_device
):
    site_id = run("create_site", acme[0].client_id, "Depot")["site_id"]
    device_id = register_device()["device_id"]
    run("assign_device", device_id, site_id, "--v2g")

    site = AuditEntry.objects.get(action="create", resource_type="site")
    assert (site.resource_id, site.operator_id, site.after["name"]) == (
        site_id,
        acme[0].operator_id,
        "Depot",
    )
    assigned = AuditEntry.objects.get(action="update", resource_type="device")
    assert (assigned.actor, assigned.operator_id) == ("cli:ops", acme[0].operator_id)
    assert assigned.before == {"site": None, "v2g_capable": False}
    assert assigned.after == {"site": site_id, "v2g_capable": True}


def test_a_refused_provisioning_change_stores_nothing_and_audits_nothing(acme, register_device):
    entries_before = AuditEntry.objects.count()
    with pytest.raises(TellusError):
        provisioning.create_site(Actor.platform(), acme[0].client_id, "Depot", power_capacity=-1)
    with pytest.raises(TellusError):
        provisioning.assign_device(Actor.platform(), register_device()["device_id"], "site_missing")
    assert AuditEntry.objects.count() == entries_before
    assert not Site.objects.filter(name="Depot").exists()
