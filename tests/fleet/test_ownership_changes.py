"""Ownership changes: logged (by the service, the management command, the admin and a site
changing operator), announced with device_owner_changed inside the changing transaction;
facts stamped with the owner at write time on every write path; and migration 0014's
back-fill from today's ownership."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import (
    ConnectivityChange,
    Device,
    DeviceEvent,
    DeviceOwnershipChange,
    FirmwareUpdate,
    TelemetrySample,
)
from fleet.services import liveness, provisioning
from fleet.services.firmware import report_firmware_status
from fleet.services.heartbeat import Heartbeat, record_heartbeat_orm
from fleet.signals import device_owner_changed
from tests.embedded import embedded_environment, run_python
from tests.fleet import backfill_case


@pytest.fixture
def pair(make_client, assigned_device, site_for):
    a, _ = make_client("Acme Charging")
    b, _ = make_client("Rival Energy")
    return a, b, assigned_device(a), site_for(b, "Harbour")


def changes(device: Device) -> list[tuple]:
    """The charger's logged changes in the order they were written (by id: the clock may
    step back between two writes a few milliseconds apart, the sequence never does)."""
    return list(
        DeviceOwnershipChange.objects.filter(device=device)
        .order_by("id")
        .values_list("operator_before_name", "site_before_name", "operator_after_name",
                     "site_after_name", "via_site", "actor")
    )  # fmt: skip


# --- The log and the signal -----------------------------------------------------------------


def test_assign_device_logs_the_move_and_signals_it_inside_its_transaction(pair):
    a, b, device, harbour = pair
    heard = []

    def receiver(sender, **kwargs):
        heard.append({**kwargs, "in_transaction": connection.in_atomic_block})

    device_owner_changed.connect(receiver)
    try:
        actor = Actor("user", username="olga")
        provisioning.assign_device(actor, device.device_id, harbour.site_id)
    finally:
        device_owner_changed.disconnect(receiver)
    assert heard == [
        {
            "signal": device_owner_changed,
            "device_ids": [device.device_id],
            "operator_before": a.operator_id,
            "operator_after": b.operator_id,
            "actor": actor,
            "in_transaction": True,
        }
    ]
    assert changes(device)[-1] == (
        "Acme Charging", "Depot", "Rival Energy", "Harbour", False, "user:olga"
    )  # fmt: skip


def test_a_move_within_one_operator_is_logged_without_the_signal(pair, site_for):
    a, _, device, _ = pair
    heard = []
    device_owner_changed.connect(heard.append)
    try:
        provisioning.assign_device(Actor.platform(), device.device_id, site_for(a, "Yard").site_id)
    finally:
        device_owner_changed.disconnect(heard.append)
    assert heard == []
    assert changes(device)[-1][:4] == ("Acme Charging", "Depot", "Acme Charging", "Yard")


def test_the_management_command_is_logged_as_the_command_line(pair):
    _, _, device, harbour = pair
    call_command("assign_device", device.device_id, harbour.site_id, stdout=open("/dev/null", "w"))
    assert changes(device)[-1][5].startswith("cli:")


def test_a_site_changing_operator_in_the_admin_logs_each_charger_on_it(pair, assigned_device):
    a, b, device, _ = pair
    other = assigned_device(a, device.site)
    staff = get_user_model().objects.create_superuser("root", "", "pw-for-tests-1")
    browser = Client()
    browser.force_login(staff)
    site = device.site
    heard = []

    def receiver(sender, **kwargs):
        heard.append(kwargs)

    device_owner_changed.connect(receiver)
    response = browser.post(
        f"/admin/fleet/site/{site.site_id}/change/",
        {"operator": b.operator_id, "name": site.name, "address": "", "lat": "", "lng": "",
         "power_capacity": "", "status": "active"},
    )  # fmt: skip
    device_owner_changed.disconnect(receiver)
    # Saved and sent back to the list (a redirect elsewhere would be a refusal).
    assert (response.status_code, response.get("Location")) == (302, "/admin/fleet/site/")
    for moved in (device, other):
        assert changes(moved)[-1] == (
            "Acme Charging", "Depot", "Rival Energy", "Depot", True, "user:root"
        )  # fmt: skip
    assert len(heard) == 1
    assert sorted(heard[0]["device_ids"]) == sorted([device.device_id, other.device_id])
    assert (heard[0]["operator_before"], heard[0]["operator_after"]) == (
        a.operator_id, b.operator_id
    )  # fmt: skip


# --- Stamped on every write path ------------------------------------------------------------


def test_every_fact_is_stamped_with_the_owner_when_it_is_written(pair):
    a, b, device, harbour = pair
    now = timezone.now()
    record_heartbeat_orm(device.device_id, Heartbeat(now, "online", 0), now)
    report_firmware_status(device.device_id, "3.2.0", "downloading", 10)
    provisioning.assign_device(Actor.platform(), device.device_id, harbour.site_id)
    Device.objects.filter(pk=device.pk).update(last_heartbeat=now - timedelta(hours=1))
    liveness.mark_offline(now)
    report_firmware_status(device.device_id, "3.2.0", "upgrading", 50)
    # The connectivity and platform faults are B's; the upgrade reported under A stays
    # A's, and B's report starts an attempt of its own.
    stamps = list(ConnectivityChange.objects.order_by("at").values_list("status", "operator_id"))
    assert stamps == [("online", a.operator_id), ("offline", b.operator_id)]
    assert set(DeviceEvent.objects.values_list("fault_code", "operator_id", "site_id")) == {
        ("F-0301", b.operator_id, harbour.site_id)
    }
    upgrades = FirmwareUpdate.objects.order_by("created_at")
    assert [(u.operator_id, u.status) for u in upgrades] == [
        (a.operator_id, "downloading"), (b.operator_id, "upgrading")
    ]  # fmt: skip


def test_a_charger_on_no_site_stamps_nobody(register_device):
    device_id = register_device()["device_id"]
    now = timezone.now()
    record_heartbeat_orm(device_id, Heartbeat(now, "online", 0), now)
    assert list(ConnectivityChange.objects.values_list("operator_id", flat=True)) == [None]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("http", ["fastpath", "orm"], indirect=True)
async def test_the_charger_hot_path_stamps_telemetry_and_reconnects(http, charger):
    from asgiref.sync import sync_to_async

    unit = await charger()

    def place() -> tuple[str, str]:
        a, _ = provisioning.create_operator_client(Actor.platform(), "Acme", ["read"])
        site = provisioning.create_site(Actor.platform(), a.client_id, "Depot")
        provisioning.assign_device(Actor.platform(), unit.device_id, site.site_id)
        return a.operator_id, site.site_id

    operator_id, site_id = await sync_to_async(place)()
    assert (await unit.heartbeat()).status_code == 200
    assert (await unit.telemetry(power=5.0)).status_code == 200

    def stamps():
        return (
            list(TelemetrySample.objects.values_list("operator_id", "site_id")),
            list(ConnectivityChange.objects.values_list("operator_id", flat=True)),
        )

    assert await sync_to_async(stamps)() == ([(operator_id, site_id)], [operator_id])


# --- The migration's back-fill --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_every_fact_from_todays_ownership_on_postgresql():
    assert backfill_case.run(connection) == backfill_case.EXPECTED


@pytest.mark.live_server
def test_the_migration_backfills_every_fact_on_the_embedded_sqlite(tmp_path):
    output = run_python(["-m", "tests.fleet.backfill_case"], embedded_environment(tmp_path))
    assert json.loads(output.strip().splitlines()[-1]) == backfill_case.EXPECTED
