"""The platform team's provisioning commands: one JSON object on stdout, or an error."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from fleet.models import ApiClient, AuditEntry, Device, DeviceEvent, Operator, Site
from fleet.services import provisioning

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> dict:
    out = StringIO()
    call_command(*args, stdout=out)
    return json.loads(out.getvalue())


def test_create_operator_client_defaults_to_read(db):
    result = run("create_operator_client", "Acme Charging")
    assert set(result) == {"operator", "client_id", "client_secret", "scopes"}
    assert result["operator"] == "Acme Charging"
    assert result["scopes"] == ["read"]
    client = ApiClient.objects.get(client_id=result["client_id"])
    assert client.check_secret(result["client_secret"])
    assert result["client_secret"] not in client.secret_hash


def test_create_operator_client_with_scopes_and_callback_reuses_the_operator(db):
    first = run("create_operator_client", "Acme Charging")
    second = run(
        "create_operator_client",
        "Acme Charging",
        "--scopes",
        "write,read",
        "--legacy-callback-url",
        "https://peer.example.org/v1/",
    )
    assert second["scopes"] == ["read", "write"]
    assert Operator.objects.count() == 1
    assert first["client_id"] != second["client_id"]
    client = ApiClient.objects.get(client_id=second["client_id"])
    assert client.legacy_callback_url == "https://peer.example.org/v1"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "read,admin"], "admin"),
        (["--scopes", ","], "scopes"),
        (["--legacy-callback-url", "ftp://peer"], "URL"),
    ],
)
def test_create_operator_client_rejects_bad_options(db, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_operator_client", "Acme", *args, stdout=StringIO())
    assert not ApiClient.objects.exists()


def test_create_site_belongs_to_the_clients_operator(db):
    client = run("create_operator_client", "Acme Charging")
    result = run(
        "create_site",
        client["client_id"],
        "Harbour Depot",
        "--address",
        "1 Quay St",
        "--lat",
        "51.5",
        "--lng",
        "-0.12",
        "--power-capacity",
        "350",
    )
    assert set(result) == {"site_id"}
    site = Site.objects.get(site_id=result["site_id"])
    assert site.operator.name == "Acme Charging"
    assert (site.name, site.address, site.lat, site.lng, site.power_capacity) == (
        "Harbour Depot",
        "1 Quay St",
        51.5,
        -0.12,
        350.0,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lat", "91", "--lng", "0"], "lat"),
        (["--lat", "10"], "lng"),
        (["--lng", "200", "--lat", "0"], "lng"),
        (["--power-capacity", "-5"], "power_capacity"),
    ],
)
def test_create_site_validates(db, args, message):
    client = run("create_operator_client", "Acme Charging")
    with pytest.raises(CommandError, match=message):
        call_command("create_site", client["client_id"], "Depot", *args, stdout=StringIO())
    assert not Site.objects.exists()


def test_create_site_for_unknown_client_fails(db):
    with pytest.raises(CommandError, match="not found"):
        call_command("create_site", "cli_nobody", "Depot", stdout=StringIO())


def test_assign_device_makes_it_visible_and_can_flag_v2g(register_device):
    client = run("create_operator_client", "Acme Charging")
    site = run("create_site", client["client_id"], "Depot")
    device_id = register_device()["device_id"]
    result = run("assign_device", device_id, site["site_id"], "--v2g")
    assert result == {"device_id": device_id, "site_id": site["site_id"]}
    device = Device.objects.get(device_id=device_id)
    assert device.site_id == site["site_id"]
    assert device.v2g_capable is True


@pytest.mark.parametrize("missing", ["device", "site"])
def test_assign_device_with_unknown_ids_fails(register_device, missing):
    client = run("create_operator_client", "Acme Charging")
    site = run("create_site", client["client_id"], "Depot")
    device_id = register_device()["device_id"]
    args = ("dvc_nobody", site["site_id"]) if missing == "device" else (device_id, "site_nowhere")
    with pytest.raises(CommandError, match="not found"):
        call_command("assign_device", *args, stdout=StringIO())


def test_rotate_client_secret(db):
    client = run("create_operator_client", "Acme Charging")
    result = run("rotate_client_secret", client["client_id"])
    assert set(result) == {"client_id", "client_secret"}
    assert result["client_id"] == client["client_id"]
    stored = ApiClient.objects.get(client_id=client["client_id"])
    assert stored.check_secret(result["client_secret"])
    assert not stored.check_secret(client["client_secret"])


def test_rotate_unknown_client_fails(db):
    with pytest.raises(CommandError, match="not found"):
        call_command("rotate_client_secret", "cli_nobody", stdout=StringIO())


# --- release_serial: a serial someone else registered first ---------------------------


def squat(sn: str = "SN-REAL-1") -> Device:
    """A registration made through the open endpoint with someone else's serial."""
    device, _ = provisioning.register_device(sn, "TP-AC22", "Whoever", "0.0.1")
    return device


def test_release_serial_removes_an_unused_registration_so_the_real_charger_registers(db):
    squatter = squat("sn-real-1")
    result = run("release_serial", "SN-REAL-1")  # as printed on the charger: case aside
    assert result == {
        "device_id": squatter.device_id,
        "sn": "sn-real-1",
        "site_id": None,
        "registered_at": squatter.registered_at.isoformat(),
        "history": {},
        "forced": False,
    }
    assert not Device.objects.filter(device_id=squatter.device_id).exists()
    entry = AuditEntry.objects.get(action="release_serial")
    assert (entry.resource_type, entry.resource_id, entry.operator_id) == (
        "device",
        squatter.device_id,
        None,
    )
    assert entry.actor.startswith("cli:")
    assert entry.details == {"sn": "sn-real-1", "forced": False, "history": {}}
    assert entry.before["sn"] == "sn-real-1" and entry.after is None
    real, _ = provisioning.register_device("SN-REAL-1", "TP-DC180", "Tellus Power", "3.1.0")
    assert Device.objects.get().device_id == real.device_id


def test_release_serial_refuses_a_charger_on_a_site_unless_forced(db):
    client = run("create_operator_client", "Acme Charging")
    site = run("create_site", client["client_id"], "Depot")
    device = squat()
    run("assign_device", device.device_id, site["site_id"])
    with pytest.raises(CommandError, match=f"is in use \\(it is on site {site['site_id']}\\)"):
        call_command("release_serial", "SN-REAL-1", stdout=StringIO())
    assert Device.objects.filter(device_id=device.device_id).exists()
    assert not AuditEntry.objects.filter(action="release_serial").exists()

    result = run("release_serial", "SN-REAL-1", "--force")
    assert (result["site_id"], result["forced"]) == (site["site_id"], True)
    assert not Device.objects.filter(device_id=device.device_id).exists()
    # In the trail of the operator whose site it was on.
    operator = Operator.objects.get(name="Acme Charging")
    assert AuditEntry.objects.get(action="release_serial").operator_id == operator.pk


def test_release_serial_refuses_a_charger_with_history_unless_forced(db):
    device = squat()
    now = timezone.now()
    DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="boot", timestamp=now, data={}
    )
    with pytest.raises(CommandError, match="is in use \\(1 device events\\)"):
        call_command("release_serial", "SN-REAL-1", stdout=StringIO())
    assert DeviceEvent.objects.count() == 1

    result = run("release_serial", "SN-REAL-1", "--force")
    assert result["history"] == {"device events": 1}
    assert DeviceEvent.objects.count() == 0


def test_release_serial_of_an_unknown_serial_fails(db):
    with pytest.raises(CommandError, match="No charger is registered with sn 'SN-NOBODY'"):
        call_command("release_serial", "SN-NOBODY", stdout=StringIO())


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_commands_as_a_process_print_json_or_fail_on_stderr():
    """What the platform team's scripts see: exit status, stdout and stderr."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(
            **{k: connection.settings_dict[k] or "" for k in ("USER", "HOST", "PORT", "NAME")}
        ),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]

    ok = subprocess.run(
        [*manage, "create_operator_client", "Proc Operator", "--scopes", "read,write"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["scopes"] == ["read", "write"]
    assert len(ok.stdout.strip().splitlines()) == 1

    failed = subprocess.run(
        [*manage, "rotate_client_secret", "cli_nobody"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert failed.returncode != 0
    assert failed.stdout == ""
    assert "not found" in failed.stderr
