"""The runbooks say what the vendor's runbooks and fault dictionary say: one test per rule,
named after it, walked through the engine as an engineer would."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.checks import run_check
from diagnostics.models import Alert, Runbook, RunbookExecution
from diagnostics.services.loader import load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from diagnostics.services.runbooks.suggestions import device_signals, fits_model, suggest
from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.models import Command, ConnectivityChange, Device, DeviceEvent, TelemetrySample
from fleet.services.commands import queue_command, report_command_status
from fleet.services.firmware import report_firmware_status
from tests import factories

pytestmark = pytest.mark.django_db
ENGINEER = Actor("user", username="field.engineer")
POWER_UP = "charger-faulting-on-power-up"
PREPARING = "connector-stuck-preparing"
V2G = "v2g-discharge-not-flowing"


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


def fault(device, code, at=None, connector_id=1, event_type="fault"):
    return DeviceEvent.objects.create(
        device=device, operator_id=device.site.operator_id, connector_id=connector_id,
        event_type=event_type, fault_code=code, timestamp=at or timezone.now(),
        data={"fault_code": code},
    )  # fmt: skip


def sample(device, at=None, connector_id=1, **fields):
    values = {"state": "charging", "voltage": 400.0, "current": 0.0, "power": 0.0,
              "energy_delivered": 0.0, **fields}  # fmt: skip
    return TelemetrySample.objects.create(
        device=device, operator_id=device.site.operator_id, site=device.site,
        connector_id=connector_id, timestamp=at or timezone.now(), **values,
    )  # fmt: skip


def at_step(device, slug, key, **context) -> RunbookExecution:
    execution = engine.start(ENGINEER, device, slug, **context)
    execution.current_step = key
    execution.save()
    return execution


def verify_and_continue(execution) -> RunbookExecution:
    engine.verify(ENGINEER, execution)
    return engine.advance(ENGINEER, execution)


def backdate(command: Command, seconds: float) -> None:
    Command.objects.filter(pk=command.pk).update(
        updated_at=timezone.now() - timedelta(seconds=seconds)
    )


# --- Runbook 1: charger faulting on power-up ---------------------------------------------------


def test_runbook_1_is_suggested_after_a_power_cycle_not_for_every_offline_charger(device):
    """Trigger: "status not online after a power cycle"; a stale heartbeat is F-0301's."""
    Device.objects.filter(pk=device.pk).update(status="offline")
    device.refresh_from_db()
    assert POWER_UP not in [s["slug"] for s in suggest(device)]

    reboot = queue_command(ENGINEER, device, "reboot", {})
    report_command_status(device.device_id, reboot.command_id, "completed", timezone.now())
    backdate(reboot, 120)
    ranked = {s["slug"]: s for s in suggest(device)}
    assert "not back online since its reboot completed" in ranked[POWER_UP]["reasons"]


def test_runbook_1_is_suggested_for_a_fault_soon_after_boot(device):
    """Trigger: "online, then fault (or a fault event) shortly after boot"."""
    came_online = timezone.now() - timedelta(minutes=30)
    ConnectivityChange.objects.create(
        device=device, operator_id=device.site.operator_id, status="online", at=came_online
    )
    fault(device, "F-0805", at=came_online + timedelta(minutes=10))  # not "soon"
    assert "fault_after_boot" not in device_signals(device).power_up
    fault(device, "F-0805", at=came_online + timedelta(minutes=2))
    assert "fault_after_boot" in device_signals(device).power_up
    assert POWER_UP in [s["slug"] for s in suggest(device)]


def test_a_v2g_refusal_or_a_platform_fault_after_boot_is_no_power_up_fault(device):
    """V2G codes belong to the V2G runbook; a heartbeat lost is the platform's F-0301."""
    came_online = timezone.now() - timedelta(minutes=3)
    ConnectivityChange.objects.create(
        device=device, operator_id=device.site.operator_id, status="online", at=came_online
    )
    fault(device, "F-0702", at=came_online + timedelta(minutes=1))
    DeviceEvent.objects.create(
        device=device, operator_id=device.site.operator_id, connector_id=1,
        event_type="fault", fault_code="F-0301", source=DeviceEvent.Source.PLATFORM,
        timestamp=came_online + timedelta(minutes=2), data={},
    )  # fmt: skip
    assert device_signals(device).power_up == frozenset()


def test_a_check_that_cannot_decide_never_moves_the_run_on(device):
    """Steps lacking data or a feature degrade to a manual or on-site confirmation."""
    execution = at_step(device, POWER_UP, "supply-power")  # no voltage envelope shipped
    assert engine.verify(ENGINEER, execution).outcome == "unknown"
    with pytest.raises(Conflict, match="could not decide") as refused:
        engine.advance(ENGINEER, execution)
    assert "supply-ok" in refused.value.details["choices"]
    execution.refresh_from_db()
    assert execution.current_step == "supply-power"
    assert engine.advance(ENGINEER, execution, choice="supply-ok").current_step == "fault-log"


def test_a_checked_step_is_not_passed_without_its_check_or_an_answer(device):
    execution = at_step(device, POWER_UP, "firmware")
    with pytest.raises(Conflict, match="has not been run"):
        engine.advance(ENGINEER, execution)
    with pytest.raises(Conflict):
        engine.advance(ENGINEER, execution, note="looked fine", done_manually=True)


def test_every_checked_step_offers_answers_for_when_its_check_cannot_decide():
    for runbook in Runbook.objects.all():
        for step in runbook.steps:
            if step.get("check") and step["key"] not in ("fault-log", "command-accepted"):
                assert any("choice" in b["when"] for b in step["branches"]), step["key"]


@pytest.mark.parametrize("firmware", ["3.0.0", "3.0.1", "3.0.2"])
def test_the_firmware_step_fails_a_build_in_f0421s_affected_range(device, firmware):
    """F-0421: 3.0.0-3.0.2 affected; upgrade rollout first, hardware swaps after."""
    Device.objects.filter(pk=device.pk).update(firmware_version=firmware)
    execution = at_step(Device.objects.get(pk=device.pk), POWER_UP, "firmware")
    result = engine.verify(ENGINEER, execution)
    assert result.outcome == "failed"
    assert result.evidence["known_issues"][0]["fault_code"] == "F-0421"
    assert engine.advance(ENGINEER, execution).status == "diagnosed"


def test_the_firmware_step_passes_the_fixed_builds(device):
    for firmware in ("3.0.3", "3.1.0"):
        Device.objects.filter(pk=device.pk).update(firmware_version=firmware)
        result = run_check(
            "firmware_current", Device.objects.get(pk=device.pk), known_issue_codes=("F-0421",)
        )
        assert result.outcome == "pass", firmware


def test_the_reboot_check_judges_only_90_seconds_after_the_reboot_completed(device):
    """Evaluate at least 90 s after the reboot (its command completed)."""
    Device.objects.filter(pk=device.pk).update(status="online", last_heartbeat=timezone.now())
    execution = at_step(Device.objects.get(pk=device.pk), POWER_UP, "reboot")
    assert engine.verify(ENGINEER, execution).outcome == "waiting"  # no reboot sent yet
    reboot = engine.send_step_command(ENGINEER, execution)
    execution.refresh_from_db()
    assert engine.verify(ENGINEER, execution).outcome == "waiting"  # queued
    report_command_status(device.device_id, reboot.command_id, "completed", timezone.now())
    early = engine.verify(ENGINEER, execution)
    assert early.outcome == "waiting" and "90 s" in early.evidence["summary"]
    with pytest.raises(Conflict):
        engine.advance(ENGINEER, execution)  # never resolved on a check that waited

    backdate(reboot, 91)
    Device.objects.filter(pk=device.pk).update(last_heartbeat=timezone.now())
    assert engine.verify(ENGINEER, execution).outcome == "verified"
    assert engine.advance(ENGINEER, execution).status == "resolved"


def test_the_reboot_check_fails_a_charger_still_silent_after_the_boot_time(device):
    Device.objects.filter(pk=device.pk).update(
        status="offline", last_heartbeat=timezone.now() - timedelta(minutes=10)
    )
    execution = at_step(Device.objects.get(pk=device.pk), POWER_UP, "reboot")
    reboot = engine.send_step_command(ENGINEER, execution)
    report_command_status(device.device_id, reboot.command_id, "completed", timezone.now())
    backdate(reboot, 120)
    execution.refresh_from_db()
    assert engine.verify(ENGINEER, execution).outcome == "failed"
    assert engine.advance(ENGINEER, execution).current_step == "escalate"


def test_the_cluster_step_passes_when_the_fault_is_firmware_related(
    device, assigned_device, site_for
):
    """The step passes when its condition (a firmware cluster) is true."""
    client = device.site.operator.clients.first()
    peer = assigned_device(client, site_for(client, "Far"), firmware_version="3.0.1")
    Device.objects.filter(pk=device.pk).update(firmware_version="3.0.1")
    fault(device, "F-0421")
    fault(peer, "F-0421")
    execution = at_step(Device.objects.get(pk=device.pk), POWER_UP, "firmware-cluster")
    assert engine.verify(ENGINEER, execution).outcome == "verified"
    execution = engine.advance(ENGINEER, execution)
    assert execution.status == "open" and execution.current_step == "firmware-rollout"


def test_a_firmware_cluster_run_ends_diagnosed_and_a_run_after_the_upgrade_verifies_the_fix(
    device,
):
    """Resolution: push the newest stable build to every unit on that version. The run is
    not resolved at diagnosis: it ends diagnosed, with the upgrade to do; a run after the
    upgrade resolves only once the unit has charged on the new build without F-0421."""
    Device.objects.filter(pk=device.pk).update(firmware_version="3.0.1")
    execution = at_step(Device.objects.get(pk=device.pk), POWER_UP, "firmware-rollout")
    execution = verify_and_continue(execution)
    assert execution.status == "diagnosed"  # still on 3.0.1: the rollout is the fix
    assert "leave the contactors" in execution.outcome_note.lower() or "leaving the contactors" in (
        execution.outcome_note.lower()
    )
    action = execution.outcome_action
    assert action["kind"] == "firmware_upgrade" and action["from_version"] == "3.0.1"
    assert (action["minimum_version"], action["target_version"]) == ("3.0.3", "3.1.0")
    assert action["fault_code"] == "F-0421" and action["affected"] == ["3.0.0", "3.0.2"]
    with pytest.raises(Conflict):
        engine.resume(ENGINEER, execution)  # diagnosed is an end: the next run verifies

    report_firmware_status(device.device_id, "3.1.0", "success")
    Device.objects.filter(pk=device.pk).update(status="online", last_heartbeat=timezone.now())
    again = at_step(Device.objects.get(pk=device.pk), POWER_UP, "firmware-rollout")
    again = verify_and_continue(again)
    assert again.status == "open" and again.current_step == "verify-fix"
    waiting = engine.verify(ENGINEER, again)
    assert waiting.outcome == "waiting" and "charging session" in waiting.evidence["summary"]
    with pytest.raises(Conflict):
        engine.advance(ENGINEER, again)  # not resolved before the new build has charged
    sample(device, at=timezone.now() + timedelta(seconds=1), state="charging", power=40.0)
    assert verify_and_continue(again).status == "resolved"


def test_f0421_again_on_the_new_build_sends_the_run_to_the_escalation(device):
    report_firmware_status(device.device_id, "3.1.0", "success")
    Device.objects.filter(pk=device.pk).update(status="online", last_heartbeat=timezone.now())
    fault(device, "F-0421", at=timezone.now() + timedelta(seconds=1))
    execution = at_step(Device.objects.get(pk=device.pk), POWER_UP, "verify-fix")
    result = engine.verify(ENGINEER, execution)
    assert result.outcome == "failed" and result.evidence["verdict"] == "Still faulting"
    assert engine.advance(ENGINEER, execution).current_step == "escalate"


# --- Runbook 2: connector stuck in Preparing -----------------------------------------------------


def retry_at_remote_start(device) -> tuple[RunbookExecution, Command]:
    execution = at_step(device, PREPARING, "remote-stop", connector_id=1)
    stop = engine.send_step_command(ENGINEER, execution)
    report_command_status(device.device_id, stop.command_id, "rejected", timezone.now())
    execution = engine.advance(ENGINEER, execution)
    assert execution.current_step == "remote-start"
    return execution, stop


def test_the_retry_is_judged_on_the_start_not_on_the_stop_before_it(device):
    """A rejected stop at the previous step sends nobody on site before any start."""
    execution, _ = retry_at_remote_start(device)
    result = engine.verify(ENGINEER, execution)
    assert result.outcome == "waiting"  # no start sent yet
    assert result.evidence["waiting_for"] == "start_charging"
    with pytest.raises(Conflict):
        engine.advance(ENGINEER, execution)


def test_the_retry_succeeds_only_when_the_start_is_accepted_and_the_connector_then_charges(
    device,
):
    execution, _ = retry_at_remote_start(device)
    start = engine.send_step_command(ENGINEER, execution)
    report_command_status(device.device_id, start.command_id, "accepted", timezone.now())
    sample(device, state="preparing")
    assert engine.verify(ENGINEER, execution).outcome == "waiting"  # for charging
    backdate(start, 120)
    assert engine.verify(ENGINEER, execution).outcome == "failed"
    sample(device, at=timezone.now() + timedelta(seconds=1), state="charging", power=7.0)
    result = engine.verify(ENGINEER, execution)
    assert result.outcome == "verified" and result.evidence["recurring"] is False
    execution = engine.advance(ENGINEER, execution)
    assert execution.status == "resolved"  # intermittent: monitoring
    assert "watch" in execution.outcome_note


def test_a_failed_retry_goes_on_to_the_physical_inspection(device):
    execution, _ = retry_at_remote_start(device)
    start = engine.send_step_command(ENGINEER, execution)
    report_command_status(device.device_id, start.command_id, "rejected", timezone.now())
    assert verify_and_continue(execution).current_step == "inspect-connector"


def test_stuck_in_preparing_three_times_within_7_days_escalates_even_when_the_retry_works(
    device,
):
    """count(stuck-preparing incidents on (dev, conn), last 7 days) >= 3 -> escalate."""
    now = timezone.now()
    for days in (1, 3, 5):  # three stuck-in-preparing alerts, one a day apart and closed
        stuck = factories.alert(
            device, at=now - timedelta(days=days), detector="stuck_preparing",
            subject=f"{device.device_id}#1", status="resolved", severity="medium",
        )  # fmt: skip
        Alert.objects.filter(pk=stuck.pk).update(created_at=now - timedelta(days=days))
    old = factories.alert(device, at=now - timedelta(days=9), detector="stuck_preparing",
                          subject=f"{device.device_id}#1", status="resolved")  # fmt: skip
    Alert.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=9))  # too old
    execution, _ = retry_at_remote_start(device)
    start = engine.send_step_command(ENGINEER, execution)
    report_command_status(device.device_id, start.command_id, "accepted", timezone.now())
    sample(device, at=timezone.now() + timedelta(seconds=1), state="charging", power=7.0)
    result = engine.verify(ENGINEER, execution)
    assert result.evidence["stuck_in_7_days"] == 3 and result.evidence["recurring"] is True
    execution = engine.advance(ENGINEER, execution)
    assert execution.status == "escalated"
    assert execution.escalation["target"] == "L2"


# --- Runbook 3: V2G discharge not flowing ----------------------------------------------------


def discharge(device, connector_id=1) -> Command:
    return queue_command(
        Actor.platform(), device, "discharge", {"discharge_power": 11}, connector_id=connector_id
    )


@pytest.fixture
def v2g_charger(device) -> Device:
    Device.objects.filter(pk=device.pk).update(v2g_capable=True, firmware_version="4.1.0")
    return Device.objects.get(pk=device.pk)


def test_the_v2g_runbook_applies_to_the_v2g_variants_only(device):
    runbook = Runbook.objects.get(slug=V2G)
    assert fits_model(runbook, "TP-DC180", v2g_capable=True)
    assert fits_model(runbook, "TP-DC360", v2g_capable=True)
    assert not fits_model(runbook, "TP-DC180", v2g_capable=False)
    assert not fits_model(runbook, "TP-DC360", v2g_capable=False)
    assert not fits_model(runbook, "TP-DC180X", v2g_capable=True)
    assert fits_model(Runbook.objects.get(slug=POWER_UP), "TP-DC180", v2g_capable=False)
    fault(device, "F-0702")
    ranked = {s["slug"]: s for s in suggest(device)}
    assert "not listed for model TP-DC180" in ranked[V2G]["reasons"]


def test_a_run_of_the_v2g_runbook_follows_its_discharge_command(v2g_charger, acme):
    """Runbook 3 starts from the discharge's command_id; a run started for the charger
    follows its latest discharge, or the one named."""
    first = discharge(v2g_charger)
    latest = discharge(v2g_charger)
    run = engine.start_run(Actor.for_client(acme.client), v2g_charger, V2G)
    assert (run.command_id, run.connector_id) == (latest.command_id, 1)
    engine.close(ENGINEER, run)
    named = engine.start_run(
        Actor.for_client(acme.client), v2g_charger, V2G, command_id=first.command_id
    )
    assert named.command_id == first.command_id


def test_a_run_cannot_follow_another_chargers_or_another_operators_command(
    v2g_charger, acme, rival, assigned_device
):
    theirs = discharge(assigned_device(rival.client))
    with pytest.raises(NotFound):
        engine.start_run(
            Actor.for_client(acme.client), v2g_charger, V2G, command_id=theirs.command_id
        )
    start = queue_command(
        Actor.for_client(acme.client), v2g_charger, "start_charging", {}, connector_id=1
    )
    with pytest.raises(InvalidParameter):
        engine.start_run(
            Actor.for_client(acme.client), v2g_charger, V2G, command_id=start.command_id
        )


def test_the_v2g_runbook_can_be_walked_from_its_command(v2g_charger, acme):
    command = discharge(v2g_charger)
    report_command_status(v2g_charger.device_id, command.command_id, "accepted", timezone.now())
    run = engine.start_run(Actor.for_client(acme.client), v2g_charger, V2G)
    run = verify_and_continue(run)
    assert run.current_step == "bms-refusal"


def test_f0702_counts_only_since_the_discharge_was_asked_for(v2g_charger):
    """(c) no event with code F-0702 for (dev, conn) since the command's created_at."""
    fault(v2g_charger, "F-0702", at=timezone.now() - timedelta(days=2))  # an older attempt
    command = discharge(v2g_charger)
    report_command_status(v2g_charger.device_id, command.command_id, "accepted", timezone.now())
    run = at_step(v2g_charger, V2G, "bms-refusal", connector_id=1, command_id=command.command_id)
    run = verify_and_continue(run)
    assert run.status == "open" and run.current_step == "soc-floor"

    again = at_step(
        v2g_charger, PREPARING, "vehicle-handshake", connector_id=1
    )  # another runbook: leaves the V2G run alone
    engine.close(ENGINEER, again)
    fault(v2g_charger, "F-0702", at=timezone.now() + timedelta(seconds=1))
    engine.close(ENGINEER, run)
    refused = at_step(
        v2g_charger, V2G, "bms-refusal", connector_id=1, command_id=command.command_id
    )
    assert verify_and_continue(refused).status == "closed"


def test_a_discharge_failed_by_the_cars_bms_is_a_vehicle_refusal_not_a_charger_rejection(
    v2g_charger,
):
    """The charger took the discharge, then failed it naming F-0702 (BMS said no): the run
    goes on to the BMS step and closes vehicle-side, as F-0702's entry says."""
    command = discharge(v2g_charger)
    report_command_status(v2g_charger.device_id, command.command_id, "accepted", timezone.now())
    fault(v2g_charger, "F-0702", at=timezone.now() + timedelta(seconds=1))
    report_command_status(
        v2g_charger.device_id, command.command_id, "failed", timezone.now(),
        "inverter refused", {"fault_code": "F-0702"},
    )  # fmt: skip
    run = at_step(
        v2g_charger, V2G, "command-accepted", connector_id=1, command_id=command.command_id
    )
    run = verify_and_continue(run)
    assert run.current_step == "bms-refusal"
    run = verify_and_continue(run)
    assert run.status == "closed" and run.outcome_note.startswith("vehicle_side")


def test_the_bms_search_cannot_decide_without_a_command(v2g_charger):
    run = at_step(v2g_charger, V2G, "bms-refusal", connector_id=1)
    assert engine.verify(ENGINEER, run).outcome == "unknown"
    with pytest.raises(Conflict):
        engine.advance(ENGINEER, run)


def test_inverter_sync_cannot_be_decided_without_the_sync_reading(v2g_charger):
    """The field is absent from v1.3: the verdict is "cannot decide — ask"."""
    command = discharge(v2g_charger)
    report_command_status(v2g_charger.device_id, command.command_id, "accepted", timezone.now())
    sample(v2g_charger, at=timezone.now() - timedelta(seconds=5))
    run = at_step(v2g_charger, V2G, "inverter-sync", connector_id=1, command_id=command.command_id)
    assert engine.verify(ENGINEER, run).outcome == "unknown"
    with pytest.raises(Conflict):
        engine.advance(ENGINEER, run)
    assert engine.advance(ENGINEER, run, choice="synced").current_step == "iso15118-20"


def test_inverter_sync_reads_synced_in_the_last_telemetry_before_the_discharge_started(
    v2g_charger,
):
    command = discharge(v2g_charger)
    sample(v2g_charger, at=timezone.now() - timedelta(seconds=5),
           extra={"inverter_sync_status": "synced"})  # fmt: skip
    report_command_status(v2g_charger.device_id, command.command_id, "accepted", timezone.now())
    sample(v2g_charger, at=timezone.now() + timedelta(seconds=5),
           extra={"inverter_sync_status": "lost"})  # after the start: not the reading  # fmt: skip
    run = at_step(v2g_charger, V2G, "inverter-sync", connector_id=1, command_id=command.command_id)
    assert verify_and_continue(run).current_step == "iso15118-20"


def test_inverter_sync_not_synced_or_f0701_pauses_on_the_f0701_entry(v2g_charger):
    command = discharge(v2g_charger)
    sample(v2g_charger, at=timezone.now() - timedelta(seconds=5),
           extra={"inverter_sync_status": "unsynced"})  # fmt: skip
    report_command_status(v2g_charger.device_id, command.command_id, "accepted", timezone.now())
    run = at_step(v2g_charger, V2G, "inverter-sync", connector_id=1, command_id=command.command_id)
    assert verify_and_continue(run).status == "paused"
    engine.close(ENGINEER, run)

    fault(v2g_charger, "F-0701", at=timezone.now() + timedelta(seconds=1))
    run = at_step(v2g_charger, V2G, "inverter-sync", connector_id=1, command_id=command.command_id)
    result = engine.verify(ENGINEER, run)
    assert result.outcome == "failed" and result.evidence["pattern"] == "f0701"
    run = engine.advance(ENGINEER, run)
    assert run.status == "paused" and "F-0701" in run.outcome_note


def test_below_410_the_drossone_step_asks_rather_than_moving_on(v2g_charger):
    """DrossOne vehicles need 4.1.0+; on older firmware negotiation fails silently."""
    Device.objects.filter(pk=v2g_charger.pk).update(firmware_version="4.0.0")
    run = at_step(Device.objects.get(pk=v2g_charger.pk), V2G, "vehicle-negotiation")
    assert engine.verify(ENGINEER, run).outcome == "failed"
    with pytest.raises(Conflict, match="no route"):
        engine.advance(ENGINEER, run)
    run = engine.advance(ENGINEER, run, choice="drossone-old-firmware")
    assert run.status == "paused" and "4.1.0" in run.outcome_note
