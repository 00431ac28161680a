"""Firmware campaigns as the domain runs them: stages and their health window, the
chargers' answers, retries of an offline charger, halts and their alert, and one active
campaign per charger."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from diagnostics.models import Alert
from diagnostics.services.detectors import firmware_rollout_halted, run_detector
from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.models import CampaignDevice, Command, Device, DeviceEvent, FirmwareCampaign
from fleet.queries import firmware as queries
from fleet.services import firmware_campaigns as campaigns
from fleet.services import lifecycle
from fleet.services.commands import report_command_status
from fleet.services.firmware import report_firmware_status
from tests import factories

pytestmark = pytest.mark.django_db

URL = "https://firmware.example.com/tp-dc180-3.1.0.bin"


@pytest.fixture
def operator(acme) -> Actor:
    return Actor.for_client(acme.client)


def chargers(acme, count: int, version: str = "3.0.1", **fields) -> list[Device]:
    depot = factories.site(acme.client)
    return sorted(
        (
            factories.assigned_device(acme.client, on=depot, firmware_version=version, **fields)
            for _ in range(count)
        ),
        key=lambda d: d.device_id,
    )


def create(actor: Actor, devices: list[Device], **options) -> FirmwareCampaign:
    return campaigns.create_campaign(
        actor,
        name=options.pop("name", "F-0421 fix"),
        target_version=options.pop("target_version", "3.1.0"),
        package_url=URL,
        device_ids=[d.device_id for d in devices],
        **options,
    )


def rows(campaign: FirmwareCampaign) -> dict[str, CampaignDevice]:
    return {row.device_id: row for row in campaign.devices.all()}


def upgrade(row: CampaignDevice, status: str = "success", version: str = "3.1.0") -> None:
    """The charger takes its command and reports the upgrade, as the charger API does."""
    report_command_status(row.device_id, row.command_id, "accepted", timezone.now())
    report_firmware_status(row.device_id, version, "downloading", 40)
    report_firmware_status(
        row.device_id, version, status, None, "flash error" if status == "failed" else None
    )
    if status == "success":
        report_command_status(row.device_id, row.command_id, "completed", timezone.now())


def test_chargers_are_put_into_stages_by_cumulative_percent(acme, operator):
    devices = chargers(acme, 10)
    campaign = create(operator, devices, stages=[10, 50, 100])
    stages = [rows(campaign)[d.device_id].stage for d in devices]
    assert stages == [0, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    assert campaign.status == "running"
    assert campaign.campaign_id.startswith("fwc_")


def test_stages_advance_only_after_the_health_window(acme, operator):
    first, second = chargers(acme, 2)
    campaign = create(operator, [first, second], stages=[50, 100], health_window_minutes=30)
    assert campaigns.drive_campaigns() == 1
    row = rows(campaign)[first.device_id]
    assert row.state == "sent" and row.attempts == 1
    command = Command.objects.get(pk=row.command_id)
    assert command.command == "firmware_upgrade" and command.connector_id is None
    assert command.params == {"firmware_version": "3.1.0", "package_url": URL}
    assert rows(campaign)[second.device_id].state == "queued"  # stage 2 waits

    upgrade(row)
    row.refresh_from_db()
    first.refresh_from_db()
    assert row.state == "succeeded" and first.firmware_version == "3.1.0"
    assert row.report_status == "success" and row.report_progress == 100

    later = row.finished_at + timedelta(minutes=29)
    campaigns.drive_campaigns(now=later)
    campaign.refresh_from_db()
    assert campaign.current_stage == 0
    campaigns.drive_campaigns(now=row.finished_at + timedelta(minutes=30))
    campaign.refresh_from_db()
    assert campaign.current_stage == 1
    second_row = rows(campaign)[second.device_id]
    assert second_row.state == "sent"

    upgrade(second_row)
    second_row.refresh_from_db()
    # The second stage began (in this test's moved time) 30 minutes after the first
    # finished; its window runs from its own last charger, no earlier than its start.
    campaigns.drive_campaigns(now=second_row.finished_at + timedelta(minutes=61))
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    detail = queries.campaign_detail(acme.operator_id, campaign.campaign_id)
    assert [s["counts"]["succeeded"] for s in detail["stages"]] == [1, 1]
    assert all(s["finished_at"] is not None for s in detail["stages"])
    # Completed: the chargers are free for another campaign.
    create(operator, [first], target_version="3.2.0")


def test_charger_reports_move_the_state_at_once(acme, operator):
    (device,) = chargers(acme, 1)
    campaign = create(operator, [device])
    campaigns.drive_campaigns()
    row = rows(campaign)[device.device_id]
    report_firmware_status(device.device_id, "3.1.0", "downloading", 10)
    row.refresh_from_db()
    assert row.state == "downloading"
    report_firmware_status(device.device_id, "3.0.9", "upgrading", 10)  # not the target
    row.refresh_from_db()
    assert row.state == "downloading"
    report_firmware_status(device.device_id, "3.1.0", "upgrading", 80)
    row.refresh_from_db()
    assert (row.state, row.report_progress) == ("upgrading", 80)


def test_a_refused_upgrade_fails_with_the_chargers_reason(acme, operator):
    (device,) = chargers(acme, 1)
    campaign = create(operator, [device])
    campaigns.drive_campaigns()
    row = rows(campaign)[device.device_id]
    report_command_status(
        device.device_id, row.command_id, "rejected", timezone.now(), "battery low"
    )
    row.refresh_from_db()
    assert row.state == "failed"
    assert "battery low" in row.reason


def test_an_offline_charger_is_sent_the_upgrade_again_until_the_limit(acme, operator, settings):
    settings.TELLUS_CAMPAIGN_MAX_ATTEMPTS = 2
    (device,) = chargers(acme, 1)
    campaign = create(operator, [device])
    campaigns.drive_campaigns()
    first = rows(campaign)[device.device_id].command_id
    lifecycle.expire_undelivered(timezone.now() + timedelta(hours=1))
    row = rows(campaign)[device.device_id]
    assert row.state == "queued" and "will try again" in row.reason

    campaigns.drive_campaigns()
    row = rows(campaign)[device.device_id]
    assert row.state == "sent" and row.attempts == 2 and row.command_id != first

    lifecycle.expire_undelivered(timezone.now() + timedelta(hours=1))
    row = rows(campaign)[device.device_id]
    assert (row.state, row.reason) == ("failed", "never reached the charger")


def test_halt_on_the_failed_share_raises_an_alert_that_resume_resolves(
    acme, operator, django_capture_on_commit_callbacks
):
    devices = chargers(acme, 4)
    campaign = create(operator, devices, halt_if={"failed_percent": 25})
    campaigns.drive_campaigns()
    for index, device in enumerate(devices):
        upgrade(rows(campaign)[device.device_id], "success" if index == 0 else "failed")
    assert campaigns.drive_campaigns() == 1
    campaign.refresh_from_db()
    assert campaign.status == "halted"
    assert campaign.halt_reason == "3 of 4 upgraded chargers failed (75 %, above the 25 % limit)"

    report = run_detector(firmware_rollout_halted, timezone.now())
    assert report.opened == 1
    alert = Alert.objects.get(detector="firmware_rollout_halted", subject=campaign.campaign_id)
    assert alert.title == f"Firmware rollout “F-0421 fix” halted: {campaign.halt_reason}"
    assert alert.operator_id == acme.operator_id

    with django_capture_on_commit_callbacks(execute=True):
        campaigns.resume_campaign(operator, campaign.campaign_id)
    alert.refresh_from_db()
    assert alert.status == "resolved"
    campaign.refresh_from_db()
    assert campaign.status == "running" and campaign.halt_reason == ""
    # The rules count from the resume: the old failures do not halt it again.
    campaigns.drive_campaigns()
    campaign.refresh_from_db()
    assert campaign.status != "halted"


def test_halt_when_upgraded_chargers_fault_more_than_before(acme, operator):
    devices = chargers(acme, 2)
    campaign = create(operator, devices, halt_if={"fault_codes": ["F-0411"]})
    campaigns.drive_campaigns()
    for device in devices:
        upgrade(rows(campaign)[device.device_id])
    campaigns.drive_campaigns(now=timezone.now())
    campaign.refresh_from_db()
    assert campaign.status == "running"
    for device in devices:
        DeviceEvent.objects.create(
            device=device,
            operator_id=acme.operator_id,
            connector_id=0,
            event_type="fault",
            fault_code="F-0411",
            timestamp=timezone.now(),
        )
    campaigns.drive_campaigns(now=timezone.now() + timedelta(minutes=1))
    campaign.refresh_from_db()
    assert campaign.status == "halted"
    assert campaign.halt_reason.startswith(
        "F-0411 on 2 upgraded chargers: 2 an hour against 0 before"
    )


def fault_at(device: Device, acme, at) -> None:
    DeviceEvent.objects.create(
        device=device, operator_id=acme.operator_id, connector_id=0, event_type="fault",
        fault_code="F-0411", timestamp=at,
    )  # fmt: skip


@pytest.mark.parametrize(("after_each", "halts"), [(2, False), (3, True)])
def test_the_fault_rate_rule_compares_rates_per_charger_hour(acme, operator, after_each, halts):
    """Two chargers that each raised F-0411 once an hour over the week before (1 per
    charger-hour): factor 2 allows up to 2 per charger-hour after the upgrade. Over one
    hour each, 2 faults apiece is the limit; 3 apiece is over it."""
    devices = chargers(acme, 2)
    campaign = create(operator, devices, halt_if={"fault_codes": ["F-0411"]})
    start = campaign.created_at
    for device in devices:
        for hour in range(1, 169):
            fault_at(device, acme, start - timedelta(hours=hour))
    campaigns.drive_campaigns()
    for device in devices:
        upgrade(rows(campaign)[device.device_id])
    upgraded_at = timezone.now()
    for device in devices:
        for minute in range(after_each):
            fault_at(device, acme, upgraded_at + timedelta(minutes=10 + minute))
    campaigns.drive_campaigns(now=upgraded_at + timedelta(hours=1))
    campaign.refresh_from_db()
    assert (campaign.status == "halted") is halts, campaign.halt_reason


def test_cancel_skips_chargers_not_reached_and_withdraws_their_commands(acme, operator):
    devices = chargers(acme, 2)
    campaign = create(operator, devices, stages=[50, 100])
    campaigns.drive_campaigns()
    sent = rows(campaign)[devices[0].device_id]
    campaigns.cancel_campaign(operator, campaign.campaign_id)
    after = rows(campaign)
    assert {row.state for row in after.values()} == {"skipped"}
    assert {row.reason for row in after.values()} == {"campaign cancelled"}
    command = Command.objects.get(pk=sent.command_id)
    assert (command.status, command.result) == ("failed", {"reason": "cancelled"})
    with pytest.raises(Conflict) as refused:
        campaigns.cancel_campaign(operator, campaign.campaign_id)
    assert refused.value.details["current"] == "cancelled"
    with pytest.raises(Conflict):
        campaigns.resume_campaign(operator, campaign.campaign_id)


def test_pause_stops_sending_and_impossible_moves_are_conflicts(acme, operator):
    (device,) = chargers(acme, 1)
    campaign = create(operator, [device])
    campaigns.pause_campaign(operator, campaign.campaign_id)
    with pytest.raises(Conflict) as refused:
        campaigns.pause_campaign(operator, campaign.campaign_id)
    assert refused.value.details == {"field": "status", "value": "paused", "current": "paused"}
    assert campaigns.drive_campaigns() == 0
    assert rows(campaign)[device.device_id].state == "queued"
    campaigns.resume_campaign(operator, campaign.campaign_id)
    with pytest.raises(Conflict):
        campaigns.resume_campaign(operator, campaign.campaign_id)
    assert campaigns.drive_campaigns() == 1


def test_a_selection_skips_chargers_on_target_or_in_another_campaign(acme, operator):
    old, held = chargers(acme, 2)
    (current,) = chargers(acme, 1, version="3.1.0")
    (other_model,) = chargers(acme, 1, model="TP-AC22")
    first = create(operator, [held], name="Pilot")
    campaign = campaigns.create_campaign(
        operator,
        name="Everyone",
        target_version="3.1.0",
        package_url=URL,
        selection={"model": "TP-DC180"},
    )
    states = {d: (r.state, r.reason) for d, r in rows(campaign).items()}
    assert states[old.device_id] == ("queued", "")
    assert states[current.device_id] == ("skipped", "already on 3.1.0")
    assert states[held.device_id] == ("skipped", "in the firmware campaign “Pilot” (running)")
    assert other_model.device_id not in states
    with pytest.raises(Conflict) as refused:
        create(operator, [old, held])
    assert refused.value.details["campaign_id"] in (first.campaign_id, campaign.campaign_id)


def test_refusals(acme, rival, operator):
    (device,) = chargers(acme, 1)
    (foreign,) = chargers(rival, 1)
    with pytest.raises(NotFound):
        create(operator, [foreign])
    with pytest.raises(NotFound):
        campaigns.create_campaign(
            operator, name="x", target_version="3.1.0", package_url=URL,
            selection={"site_ids": [foreign.site_id]},
        )  # fmt: skip
    for stages in ([], [50, 40, 100], [0, 100], [50], [101], [*list(range(1, 21)), 100]):
        with pytest.raises(InvalidParameter):
            create(operator, [device], stages=stages)
    with pytest.raises(InvalidParameter):
        create(operator, [device], target_version="3.0.1")  # nothing to upgrade
    with pytest.raises(InvalidParameter):
        campaigns.create_campaign(
            operator, name="x", target_version="3.1.0", package_url="ftp://example.com/f.bin",
            device_ids=[device.device_id],
        )  # fmt: skip
    campaign = create(operator, [device])
    with pytest.raises(NotFound):
        campaigns.pause_campaign(Actor.for_client(rival.client), campaign.campaign_id)
    with pytest.raises(NotFound):
        queries.campaign_detail(rival.operator_id, campaign.campaign_id)


def test_fleet_versions_per_model_sorted_as_versions(acme):
    chargers(acme, 2, version="3.10.0")
    chargers(acme, 1, version="3.9.2")
    chargers(acme, 1, version="3.0.1", model="TP-AC22")
    assert queries.fleet_versions(acme.operator_id) == [
        {
            "model": "TP-AC22",
            "chargers": 1,
            "versions": [{"firmware_version": "3.0.1", "chargers": 1}],
        },
        {
            "model": "TP-DC180",
            "chargers": 3,
            "versions": [
                {"firmware_version": "3.9.2", "chargers": 1},
                {"firmware_version": "3.10.0", "chargers": 2},
            ],
        },
    ]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creations_cannot_both_take_a_charger(acme, operator):
    (device,) = chargers(acme, 1)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def attempt(name: str) -> None:
        try:
            barrier.wait()
            create(operator, [device], name=name)
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "created"]
    assert CampaignDevice.objects.filter(device=device, holds=True).count() == 1


def test_one_campaign_failing_its_tick_leaves_the_others_moving(
    acme, rival, operator, monkeypatch, caplog
):
    """A campaign whose tick raises (a bug, a bad row) is logged and tried again next
    tick; the other campaigns, another operator's among them, still move on that tick."""
    first = create(operator, chargers(acme, 1))
    second = create(Actor.for_client(rival.client), chargers(rival, 1))
    real = campaigns.driver._drive

    def broken_for_the_first(campaign, now):
        if campaign.campaign_id == first.campaign_id:
            raise RuntimeError("boom")
        return real(campaign, now)

    monkeypatch.setattr(campaigns.driver, "_drive", broken_for_the_first)
    assert campaigns.drive_campaigns() == 1
    assert set(second.devices.values_list("state", flat=True)) == {"sent"}
    assert set(first.devices.values_list("state", flat=True)) == {"queued"}
    assert "its tick failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_upgrade_handed_out_while_the_campaign_is_cancelled_is_not_called_skipped(
    acme, operator
):
    """A delivery holds its command's row while it hands it out. A cancel at that moment
    waits for it; the charger then has the upgrade, so its row stays sent and its command
    is not failed, while the charger the upgrade had not reached is skipped."""
    devices = chargers(acme, 2)
    campaign = create(operator, devices)
    campaigns.drive_campaigns()
    delivering, quiet = (rows(campaign)[device.device_id] for device in devices)
    locked = threading.Event()

    def delivery() -> None:
        try:
            with transaction.atomic():
                command = Command.objects.select_for_update().get(pk=delivering.command_id)
                locked.set()
                time.sleep(1)  # the cancel arrives meanwhile, and waits
                command.delivered_at = timezone.now()
                command.save(update_fields=["delivered_at"])
        finally:
            connections.close_all()

    courier = threading.Thread(target=delivery)
    courier.start()
    assert locked.wait(30)
    campaigns.cancel_campaign(operator, campaign.campaign_id)
    courier.join()
    after = rows(campaign)
    assert after[quiet.device_id].state == "skipped"
    assert after[delivering.device_id].state == "sent"
    assert Command.objects.get(pk=delivering.command_id).status == "queued"
    assert Command.objects.get(pk=quiet.command_id).status == "failed"
