"""The three runbooks walked end to end through the engine, branch by branch."""

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.utils import timezone

from diagnostics.models import Runbook, RunbookExecution
from diagnostics.services.loader import DiagnosticsDataError, load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from diagnostics.services.runbooks.suggestions import suggest
from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter
from fleet.models import AuditEntry, Command, Device, DeviceEvent, TelemetrySample
from fleet.services.commands import queue_command, report_command_status

pytestmark = pytest.mark.django_db
ENGINEER = Actor("user", username="field.engineer")


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


def faults(device, *codes, connector_id=1):
    for index, code in enumerate(codes):
        DeviceEvent.objects.create(
            device=device,
            connector_id=connector_id,
            event_type="fault",
            fault_code=code,
            timestamp=timezone.now() - timedelta(minutes=len(codes) - index),
            data={"fault_code": code},
        )


def run(device, slug, **context) -> RunbookExecution:
    return engine.start(ENGINEER, device, slug, **context)


def step(execution, choice=None, verify=True):
    """Verify the current step if it has a check, then move on (with a choice)."""
    if verify and execution.runbook.step(execution.current_step).get("check"):
        engine.verify(ENGINEER, execution)
    return engine.advance(ENGINEER, execution, choice=choice)


# --- Charger faulting on power-up ------------------------------------------------------------


def at_fault_log(device) -> RunbookExecution:
    execution = run(device, "charger-faulting-on-power-up")
    assert execution.current_step == "supply-power"
    result = engine.verify(ENGINEER, execution)
    assert result.outcome == "unknown"  # no envelope is shipped: the engineer measures
    execution = engine.advance(ENGINEER, execution, choice="supply-ok")
    assert execution.current_step == "fault-log"
    return execution


def test_power_up_cabinet_overheat_pauses(device):
    faults(device, "F-0204")
    execution = step(at_fault_log(device))
    assert execution.status == "paused"
    assert "F-0204" in execution.outcome_note


def test_power_up_v2g_codes_switch_runbooks(device):
    faults(device, "F-0701")
    first = at_fault_log(device)
    switched = step(first)
    first.refresh_from_db()
    assert first.status == "closed"
    assert switched.runbook_id == "v2g-discharge-not-flowing"
    assert switched.current_step == "command-accepted"


def test_power_up_f0421_cluster_is_firmware_and_goes_to_the_rollout(
    device, assigned_device, site_for
):
    client = device.site.operator.clients.first()
    peer = assigned_device(client, site_for(client, "Far"), firmware_version="3.1.0")
    faults(device, "F-0421", "F-0421")
    faults(peer, "F-0421")
    execution = step(at_fault_log(device))
    assert execution.current_step == "firmware-cluster"
    execution = step(execution)
    assert execution.status == "open" and execution.current_step == "firmware-rollout"
    result = execution.results.filter(step_key="firmware-cluster").first()
    assert result.outcome == "verified" and result.evidence["cluster_firmware"] == "3.1.0"
    execution = step(execution)  # 3.1.0: outside 3.0.0-3.0.2 and the latest stable
    assert execution.current_step == "verify-fix"


def test_power_up_single_f0411_then_firmware_then_reboot_resolves(device):
    faults(device, "F-0411")
    execution = step(at_fault_log(device))
    assert execution.current_step == "firmware"
    execution = step(execution)  # 3.1.0 is the latest stable
    assert execution.current_step == "reboot"
    command = engine.send_step_command(ENGINEER, execution)
    assert command.command == "reboot" and command.connector_id is None
    report_command_status(device.device_id, command.command_id, "completed", timezone.now())
    Command.objects.filter(pk=command.pk).update(
        updated_at=timezone.now() - timedelta(seconds=91)
    )  # the boot took its 90 s
    Device.objects.filter(pk=device.pk).update(status="online", last_heartbeat=timezone.now())
    execution = step(execution)
    assert execution.status == "resolved"


def at_reboot(device) -> RunbookExecution:
    faults(device, "F-0411")
    execution = step(step(at_fault_log(device)))
    assert execution.current_step == "reboot"
    return execution


def test_a_step_command_is_issued_by_the_client_who_runs_the_step(device):
    client = device.site.operator.clients.get()
    runner = Actor.for_client(client, "192.0.2.44")
    command = engine.send_step_command(runner, at_reboot(device))

    assert (command.operator_id, command.issued_by_client_id, command.issued_from) == (
        client.operator_id,
        client.client_id,
        "192.0.2.44",
    )
    assert command.issued_by_user_id is None
    entry = AuditEntry.objects.get(action="execute_command", details__command_id=command.command_id)
    assert (entry.actor, entry.operator_id, entry.ip) == (
        f"client:{client.client_id}",
        client.operator_id,
        "192.0.2.44",
    )


def test_a_step_command_is_issued_by_the_console_user_who_runs_the_step(device):
    operator_id = device.site.operator_id
    engineer = get_user_model().objects.create_user("engineer", password="pw-for-tests-1")
    runner = Actor.for_user(engineer, operator_id, "203.0.113.9")
    command = engine.send_step_command(runner, at_reboot(device))

    assert (command.operator_id, command.issued_by_user_id, command.issued_from) == (
        operator_id,
        engineer.pk,
        "203.0.113.9",
    )
    assert command.issued_by_client_id is None
    entry = AuditEntry.objects.get(action="execute_command", details__command_id=command.command_id)
    assert (entry.actor, entry.operator_id) == ("user:engineer", operator_id)


def test_power_up_old_firmware_ends_diagnosed_with_the_upgrade_to_do(device):
    Device.objects.filter(pk=device.pk).update(firmware_version="2.8.0")
    execution = step(at_fault_log(device))  # no pattern → next: firmware
    assert execution.current_step == "firmware"
    execution = step(execution)
    assert execution.status == "diagnosed"
    assert execution.outcome_action["kind"] == "firmware_upgrade"
    assert execution.outcome_action["target_version"] == "3.1.0"
    assert execution.outcome_action["text"].startswith("Upgrade to 3.1.0 or later")


def test_power_up_escalates_with_the_checklist(device):
    faults(device, "F-0411")
    TelemetrySample.objects.create(
        device=device, connector_id=1, timestamp=timezone.now(), state="charging", voltage=400,
        current=100, power=40, energy_delivered=3, temperature=82.0,
    )  # fmt: skip
    execution = step(step(at_fault_log(device)))  # fault-log → firmware → reboot
    execution = step(execution, choice="still-faulting", verify=False)
    assert execution.current_step == "escalate"
    execution = step(execution)
    assert execution.status == "escalated"
    escalation = execution.escalation
    assert escalation["target"] == "L2"
    assert set(escalation["checklist"]) == {"event_log", "firmware", "thermal_anomalies"}
    assert escalation["checklist"]["event_log"][0]["fault_code"] == "F-0411"
    assert escalation["checklist"]["thermal_anomalies"]["samples"][0]["temperature"] == 82.0
    with pytest.raises(Conflict):
        engine.advance(ENGINEER, execution)


def test_choices_must_be_offered_by_the_step(device):
    execution = run(device, "charger-faulting-on-power-up")
    with pytest.raises(InvalidParameter):
        engine.advance(ENGINEER, execution, choice="made-up")


# --- Connector stuck in Preparing --------------------------------------------------------------


def test_preparing_one_vehicle_is_vehicle_side(device):
    execution = step(run(device, "connector-stuck-preparing", connector_id=1), choice="one-vehicle")
    assert execution.status == "closed"
    assert execution.outcome_note.startswith("vehicle_side")


def test_preparing_missing_auth_goes_to_the_partner(device):
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="plug_in", timestamp=t0, data={}
    )
    TelemetrySample.objects.create(
        device=device, connector_id=1, timestamp=t0 + timedelta(seconds=10), state="preparing",
        voltage=400, current=0, power=0, energy_delivered=0,
    )  # fmt: skip
    execution = step(
        run(device, "connector-stuck-preparing", connector_id=1), choice="several-vehicles"
    )
    assert execution.current_step == "auth"
    execution = step(execution)
    assert execution.status == "escalated"
    assert execution.escalation["target"] == "partner_cpms"


def test_preparing_retry_then_inspection_then_reset_escalates(device):
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="plug_in", timestamp=t0, data={}
    )
    DeviceEvent.objects.create(
        device=device,
        connector_id=1,
        event_type="auth_ok",
        timestamp=t0 + timedelta(seconds=2),
        data={},
    )
    TelemetrySample.objects.create(
        device=device, connector_id=1, timestamp=t0 + timedelta(seconds=10), state="preparing",
        voltage=400, current=0, power=0, energy_delivered=0,
    )  # fmt: skip
    execution = step(
        run(device, "connector-stuck-preparing", connector_id=1), choice="several-vehicles"
    )
    execution = step(execution)  # auth passes
    assert execution.current_step == "remote-stop"
    engine.send_step_command(ENGINEER, execution)
    execution = step(execution)
    assert execution.current_step == "remote-start"
    command = engine.send_step_command(ENGINEER, execution)
    report_command_status(device.device_id, command.command_id, "accepted", timezone.now())
    engine.verify(ENGINEER, execution)
    execution = engine.advance(ENGINEER, execution, choice="still-preparing")
    assert execution.current_step == "inspect-connector"
    execution = step(execution, choice="inspection-ok")
    assert execution.current_step == "reset-connector"
    execution = step(execution, choice="still-stuck")
    assert execution.status == "escalated"
    assert set(execution.escalation["checklist"]) == {
        "event_log",
        "vehicle",
        "firmware",
        "connector_photos",
    }


def test_preparing_retry_that_charges_resolves(device):
    execution = run(device, "connector-stuck-preparing", connector_id=1)
    execution.current_step = "remote-start"
    execution.save()
    execution = step(execution, choice="charging", verify=False)
    assert execution.status == "resolved"


# --- V2G discharge not flowing ----------------------------------------------------------------


@pytest.fixture
def discharge(device):
    Device.objects.filter(pk=device.pk).update(v2g_capable=True, firmware_version="4.1.0")
    return queue_command(
        Actor.platform(),
        Device.objects.get(pk=device.pk),
        "discharge",
        {"discharge_power": 11},
        connector_id=1,
    )


def v2g(device, command) -> RunbookExecution:
    return run(
        Device.objects.get(pk=device.pk),
        "v2g-discharge-not-flowing",
        connector_id=1,
        command_id=command.command_id,
    )


def test_v2g_undelivered_command_pauses(device, discharge):
    execution = step(v2g(device, discharge))
    assert execution.status == "paused"
    assert "F-0301" in execution.outcome_note or "connect" in execution.outcome_note.lower()


def test_v2g_failed_command_closes(device, discharge):
    report_command_status(
        device.device_id, discharge.command_id, "rejected", timezone.now(), "no_v2g_contract"
    )
    execution = step(v2g(device, discharge))
    assert execution.status == "closed"
    assert execution.outcome_note.startswith("command_failed")


def test_v2g_bms_refusal_is_vehicle_side(device, discharge):
    report_command_status(device.device_id, discharge.command_id, "accepted", timezone.now())
    DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="fault", fault_code="F-0702",
        timestamp=timezone.now(), data={"fault_code": "F-0702"},
    )  # fmt: skip
    execution = step(step(v2g(device, discharge)))
    assert execution.status == "closed"
    assert execution.outcome_note.startswith("vehicle_side")


def test_v2g_full_walk_to_escalation(device, discharge):
    report_command_status(device.device_id, discharge.command_id, "accepted", timezone.now())
    TelemetrySample.objects.create(
        device=device, connector_id=1, timestamp=timezone.now(), state="charging", voltage=400,
        current=0, power=0, energy_delivered=0, soc=55,
    )  # fmt: skip
    execution = step(v2g(device, discharge))  # accepted
    assert execution.current_step == "bms-refusal"
    execution = step(execution)  # no F-0702
    assert execution.current_step == "soc-floor"
    execution = step(execution)  # 55 % > 20 %
    execution = step(execution, choice="eligible")
    assert execution.current_step == "inverter-sync"
    execution = step(execution, choice="synced")  # no reading in v1.3: confirmed on site
    assert execution.current_step == "iso15118-20"
    execution = step(execution, choice="supported")  # 4.1.0 vs 260420.0107: asked
    execution = step(execution, choice="none-apply")
    assert execution.current_step == "known-good-vehicle"
    execution = step(execution, choice="good-car-fails")
    assert execution.status == "escalated"
    checklist = execution.escalation["checklist"]
    assert set(checklist) == {
        "event_trail",
        "inverter_telemetry_60s",
        "vehicle",
        "runbook_reference",
    }
    assert [s["step_key"] for s in checklist["runbook_reference"]["steps"]][:2] == [
        "command-accepted",
        "bms-refusal",
    ]


# --- Loading, suggestions and the API ------------------------------------------------------------


def test_runbook_loader_is_idempotent_and_validates(tmp_path):
    again = load_runbooks()
    assert sorted(again.unchanged) == [
        "charger-faulting-on-power-up",
        "connector-stuck-preparing",
        "v2g-discharge-not-flowing",
    ]
    broken = yaml.safe_load(open("diagnostics/data/runbooks.yaml"))
    broken[0]["steps"][1]["branches"][0]["then"] = {"action": "goto", "step": "nowhere"}
    path = tmp_path / "runbooks.yaml"
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(DiagnosticsDataError, match="nowhere"):
        load_runbooks(path)
    assert Runbook.objects.count() == 3


def test_suggestions_rank_by_recent_codes_and_state(device):
    faults(device, "F-0421", "F-0421")
    device.connectors.create(connector_id=1, state="preparing")
    ranked = suggest(device)
    # By the runbooks' data: a preparing connector (4) + F-0421 (3) ranks above F-0421
    # (3) alone; being offline is no sign of a power-up fault.
    assert [(r["slug"], r["score"]) for r in ranked][:2] == [
        ("connector-stuck-preparing", 7),
        ("charger-faulting-on-power-up", 3),
    ]
    assert ranked[0]["reasons"] == ["recent fault codes: F-0421", "a connector is in preparing"]
    assert ranked[1]["reasons"] == ["recent fault codes: F-0421"]
    assert all(r["score"] > 0 and r["reasons"] for r in ranked)


def test_runbook_api(api, device, operator_token, make_client):
    client, secret = make_client("Acme Charging")
    token = operator_token(client, secret)
    listed = api.get("/v1/operator/runbooks", token).json()["data"]
    assert [r["slug"] for r in listed] == [
        "charger-faulting-on-power-up",
        "connector-stuck-preparing",
        "v2g-discharge-not-flowing",
    ]
    detail = api.get("/v1/operator/runbooks/connector-stuck-preparing", token).json()["data"]
    assert detail["steps"][0]["key"] == "vehicle-handshake"
    assert api.get("/v1/operator/runbooks/nope", token).json()["code"] == 3001
    faults(device, "F-0702")
    suggestions = api.get(
        f"/v1/operator/devices/{device.device_id}/runbook-suggestions", token
    ).json()["data"]
    assert suggestions[0]["slug"] in {"v2g-discharge-not-flowing", "charger-faulting-on-power-up"}
