"""Runbook runs over the operator API (extensions): a whole run of "Charger faults after
power-up" down its F-0421 firmware-cluster branch, every action on a step, the ends of a
run, and every refusal — wrong step, finished or paused run, unknown answer, a step without
a check or command, read-only tokens, another operator's devices and runs, hostile bodies —
in the v1 envelope, storing nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.models import RunbookExecution, StepResult
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.models import AuditEntry, Command, Connector, DeviceEvent

pytestmark = pytest.mark.django_db

RUNS = "/v1/operator/runbook-runs"
POWER_UP = "charger-faulting-on-power-up"
PREPARING = "connector-stuck-preparing"


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def device(acme, site_for, assigned_device):
    """A TP-DC180 on 3.0.1, inside F-0421's known firmware issue (3.0.0-3.0.2)."""
    client = acme[0]
    charger = assigned_device(
        client, site_for(client, "North Depot"), model="TP-DC180", firmware_version="3.0.1"
    )
    Connector.objects.create(device=charger, connector_id=1, state="idle")
    return charger


@pytest.fixture
def cluster(acme, device, site_for, assigned_device):
    """F-0421 twice on the device and once on a peer on another site, same firmware."""
    client = acme[0]
    peer = assigned_device(
        client, site_for(client, "South Yard"), model="TP-DC180", firmware_version="3.0.1"
    )
    faults(device, "F-0421", "F-0421")
    faults(peer, "F-0421")
    return peer


@pytest.fixture
def reader(acme, make_client, operator_token):
    """A read-only token of the same operator."""
    client, secret = make_client("Acme Charging", scopes=["read"])
    assert client.operator_id == acme[0].operator_id
    return operator_token(client, secret)


def faults(device, *codes):
    for index, code in enumerate(codes):
        DeviceEvent.objects.create(
            device=device, connector_id=1, event_type="fault", fault_code=code,
            timestamp=timezone.now() - timedelta(minutes=len(codes) - index),
            data={"fault_code": code},
        )  # fmt: skip


def start(api, token, device, slug=POWER_UP, **body):
    path = f"/v1/operator/devices/{device.device_id}/runbook-runs"
    return api.post(path, {"runbook": slug, **body}, token)


def started(api, token, device, slug=POWER_UP, **body) -> dict:
    response = start(api, token, device, slug, **body)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def act(api, token, run_id, step, **body):
    return api.post(f"{RUNS}/{run_id}/steps/{step}", body, token)


def acted(api, token, run_id, step, **body) -> dict:
    response = act(api, token, run_id, step, **body)
    assert response.status_code == 200, response.content
    return response.json()["data"]


def refused(response, status: int, code: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code and body["data"] is None, body
    return body


def stored() -> tuple[int, int, int, int]:
    return (
        RunbookExecution.objects.count(),
        StepResult.objects.count(),
        Command.objects.count(),
        AuditEntry.objects.filter(resource_type="runbook_run").count(),
    )


# --- A whole run ---------------------------------------------------------------------------------


def test_a_whole_run_down_the_f0421_cluster_branch(api, acme, device, cluster):
    client, token = acme
    run = started(api, token, device, connector_id=1)
    run_id = run["run_id"]
    assert run_id.startswith("run_")
    assert run["runbook"] == {"slug": POWER_UP, "title": "Charger faults after power-up"}
    assert (run["device_id"], run["connector_id"], run["status"]) == (device.device_id, 1, "open")
    assert run["started_by"] == f"client:{client.client_id}"
    assert (run["steps"], run["moves"], run["escalation"]) == ([], [], None)
    step = run["current_step"]
    assert (step["key"], step["on_site"], step["check"], step["command"]) == (
        "supply-power", "optional", "voltage_in_envelope", None,
    )  # fmt: skip
    assert [c["choice"] for c in step["choices"]] == ["supply-ok", "supply-bad"]
    assert step["choices"][0]["label"].startswith("Measured: all phases present")
    assert step["actions"] == ["verify", "choose", "continue", "done"]

    # The supply check cannot decide (no envelope is shipped): the engineer measured.
    verified = acted(api, token, run_id, "supply-power", action="verify")
    assert verified["current_step"]["key"] == "supply-power"
    assert verified["result"]["outcome"] == "unknown"
    assert verified["result"]["evidence"]["check"] == "voltage_in_envelope"
    chosen = acted(
        api, token, run_id, "supply-power", action="choose", choice="supply-ok",
        note="430 V on all three phases at the cabinet",
    )  # fmt: skip
    assert chosen["current_step"]["key"] == "fault-log"
    assert (chosen["result"]["outcome"], chosen["result"]["choice"]) == (
        "done_manually", "supply-ok",
    )  # fmt: skip
    assert chosen["moves"][-1]["why"].startswith("chosen: Measured")

    # The fault log shows an F-0421 cluster: on to the fleet-wide search.
    log = acted(api, token, run_id, "fault-log", action="verify")["result"]
    assert (log["outcome"], log["evidence"]["pattern"]) == ("failed", "f0421_cluster")
    moved = acted(api, token, run_id, "fault-log", action="continue")
    assert moved["current_step"]["key"] == "firmware-cluster"
    assert moved["result"] is None and moved["switched_from"] is None

    # A cluster on one firmware version at two sites: firmware-related, the check passes,
    # and the run goes on to the rollout rather than ending at the diagnosis.
    found = acted(api, token, run_id, "firmware-cluster", action="verify")["result"]
    assert found["outcome"] == "verified"
    assert found["evidence"]["cluster_firmware"] == "3.0.1"
    moved = acted(api, token, run_id, "firmware-cluster", action="continue")
    assert moved["status"] == "open" and moved["current_step"]["key"] == "firmware-rollout"

    # This unit is still on 3.0.1, inside F-0421's known issue: the run ends diagnosed,
    # with the upgrade to carry out.
    pending = acted(api, token, run_id, "firmware-rollout", action="verify")["result"]
    assert pending["outcome"] == "failed" and pending["evidence"]["verdict"] == "Upgrade needed"
    diagnosed = acted(api, token, run_id, "firmware-rollout", action="continue")
    assert diagnosed["status"] == "diagnosed"
    assert "leaving the contactors in place" in diagnosed["outcome_note"]
    assert diagnosed["outcome_action"]["kind"] == "firmware_upgrade"
    assert diagnosed["outcome_action"]["text"].startswith("Upgrade to 3.0.3 or later")

    detail = api.get(f"{RUNS}/{run_id}", token).json()["data"]
    assert [(s["step"], s["outcome"], s["choice"]) for s in detail["steps"]] == [
        ("supply-power", "unknown", None),
        ("supply-power", "done_manually", "supply-ok"),
        ("fault-log", "failed", None),
        ("firmware-cluster", "verified", None),
        ("firmware-rollout", "failed", None),
    ]
    assert detail["steps"][1]["note"] == "430 V on all three phases at the cabinet"
    assert all(s["by"] == f"client:{client.client_id}" for s in detail["steps"])
    assert [(m["step"], m["action"], m["to"]) for m in detail["moves"]] == [
        ("supply-power", "next", "fault-log"),
        ("fault-log", "goto", "firmware-cluster"),
        ("firmware-cluster", "goto", "firmware-rollout"),
        ("firmware-rollout", "diagnose", "diagnosed"),
    ]
    assert "its pattern is F-0421 repeated (a cluster)" in detail["moves"][1]["why"]
    assert detail["escalation"] is None

    again = act(api, token, run_id, "firmware-rollout", action="continue")
    assert refused(again, 409, 4001)["details"]["status"] == "diagnosed"
    entries = AuditEntry.objects.filter(resource_id=run_id)
    assert {"start_runbook", "step_result"} <= set(entries.values_list("action", flat=True))
    assert {e.actor for e in entries} == {f"client:{client.client_id}"}


def test_a_manual_step_ticked_done_with_a_note(api, acme, device):
    run_id = started(api, acme[1], device)["run_id"]
    acted(api, acme[1], run_id, "supply-power", action="choose", choice="supply-ok")
    acted(api, acme[1], run_id, "fault-log", action="verify")
    acted(api, acme[1], run_id, "fault-log", action="continue")  # no pattern: firmware
    acted(api, acme[1], run_id, "firmware", action="choose", choice="firmware-ok")
    done = acted(api, acme[1], run_id, "reboot", action="choose", choice="still-faulting")
    assert done["current_step"]["key"] == "escalate"
    # The escalation step has no check: ticking it done with a note follows its route.
    done = acted(api, acme[1], run_id, "escalate", action="done", note="Engineer booked")
    assert done["result"]["outcome"] == "done_manually"
    assert done["result"]["note"] == "Engineer booked"
    assert done["status"] == "escalated"


def test_a_checked_step_is_not_ticked_done_without_saying_what_was_found(api, acme, device):
    """A step whose check cannot decide degrades to a confirmation by hand: an answer,
    not a bare tick that would pass it."""
    run_id = started(api, acme[1], device)["run_id"]
    answer = act(api, acme[1], run_id, "supply-power", action="done", note="Measured")
    details = refused(answer, 409, 4001)["details"]
    assert details["reason"] == "undecided"
    assert details["choices"] == ["supply-ok", "supply-bad"]


def test_a_branch_that_switches_runbooks_answers_with_the_new_run(api, acme, device):
    faults(device, "F-0701")
    run_id = started(api, acme[1], device, connector_id=1)["run_id"]
    acted(api, acme[1], run_id, "supply-power", action="choose", choice="supply-ok")
    acted(api, acme[1], run_id, "fault-log", action="verify")
    switched = acted(api, acme[1], run_id, "fault-log", action="continue")
    assert switched["switched_from"] == run_id
    assert switched["run_id"] != run_id
    assert switched["runbook"]["slug"] == "v2g-discharge-not-flowing"
    assert switched["current_step"]["key"] == "command-accepted"
    assert switched["connector_id"] == 1
    assert switched["moves"][0]["why"].startswith(f"switched from {POWER_UP} ({run_id})")
    old = api.get(f"{RUNS}/{run_id}", acme[1]).json()["data"]
    assert old["status"] == "closed" and switched["run_id"] in old["outcome_note"]
    assert old["moves"][-1]["to"] == switched["run_id"]


# --- Step commands -------------------------------------------------------------------------------


def at_step(run_id: str, key: str) -> None:
    RunbookExecution.objects.filter(run_id=run_id).update(current_step=key)


def test_a_low_risk_step_command_goes_out_at_once(api, acme, device):
    run_id = started(api, acme[1], device)["run_id"]
    at_step(run_id, "reboot")
    step = api.get(f"{RUNS}/{run_id}", acme[1]).json()["data"]["current_step"]
    assert step["command"] == {"type": "reboot", "params": {}, "risk": "low"}
    assert step["actions"] == ["verify", "command", "choose", "continue", "done"]
    sent = acted(api, acme[1], run_id, "reboot", action="command")
    command = Command.objects.get()
    assert sent["command"] == {"command_id": command.command_id, "command": "reboot",
                               "status": "queued"}  # fmt: skip
    assert sent["command_id"] == command.command_id
    assert (command.command, command.connector_id) == ("reboot", None)
    assert command.issued_by_client_id == acme[0].client_id


def test_a_medium_risk_step_command_needs_confirm(api, acme, device):
    run_id = started(api, acme[1], device, PREPARING, connector_id=1)["run_id"]
    at_step(run_id, "remote-start")
    step = api.get(f"{RUNS}/{run_id}", acme[1]).json()["data"]["current_step"]
    assert step["command"]["risk"] == "medium"
    before = stored()
    unconfirmed = act(api, acme[1], run_id, "remote-start", action="command")
    body = refused(unconfirmed, 400, 1001)
    assert (body["details"]["field"], body["details"]["reason"]) == (
        "confirm", "confirmation_required",
    )  # fmt: skip
    assert stored() == before
    sent = acted(api, acme[1], run_id, "remote-start", action="command", confirm=True)
    command = Command.objects.get(command_id=sent["command"]["command_id"])
    assert (command.command, command.connector_id) == ("start_charging", 1)
    assert command.params == {"connector_id": 1}  # "$connector_id" filled from the run


def test_a_step_command_that_needs_a_connector_needs_the_runs_connector(api, acme, device):
    run_id = started(api, acme[1], device, PREPARING)["run_id"]
    at_step(run_id, "remote-stop")
    response = act(api, acme[1], run_id, "remote-stop", action="command", confirm=True)
    assert refused(response, 400, 1002)["details"]["field"] == "connector_id"
    assert not Command.objects.exists()


# --- The ends of a run ---------------------------------------------------------------------------


def test_escalate_with_the_checklist(api, acme, device):
    faults(device, "F-0411")
    run_id = started(api, acme[1], device)["run_id"]
    response = api.post(
        f"{RUNS}/{run_id}/escalate", {"note": "needs a site visit", "target": "L3"}, acme[1]
    )
    assert response.status_code == 200, response.content
    run = response.json()["data"]
    assert (run["status"], run["current_step"], run["outcome_note"]) == (
        "escalated", None, "needs a site visit",
    )  # fmt: skip
    escalation = run["escalation"]
    assert (escalation["target"], escalation["note"]) == ("L3", "needs a site visit")
    assert set(escalation["checklist"]) == {"event_log", "firmware", "thermal_anomalies"}
    assert escalation["checklist"]["event_log"][0]["fault_code"] == "F-0411"
    assert run["moves"][-1]["to"] == "escalated"
    default = started(api, acme[1], device)["run_id"]
    assert (
        api.post(f"{RUNS}/{default}/escalate", {}, acme[1]).json()["data"]["escalation"]["target"]
        == "L2"
    )


def test_resolve_and_close(api, acme, device):
    first = started(api, acme[1], device)["run_id"]
    resolved = api.post(f"{RUNS}/{first}/resolve", {"note": "fuse replaced"}, acme[1])
    assert resolved.json()["data"]["status"] == "resolved"
    assert resolved.json()["data"]["outcome_note"] == "fuse replaced"
    second = started(api, acme[1], device)["run_id"]
    closed = api.post(f"{RUNS}/{second}/close", {"reason": "vehicle", "note": "one car"}, acme[1])
    assert closed.json()["data"]["status"] == "closed"
    assert closed.json()["data"]["outcome_note"] == "vehicle: one car"
    third = started(api, acme[1], device)["run_id"]
    plain = api.post(f"{RUNS}/{third}/close", {}, acme[1]).json()["data"]
    assert plain["outcome_note"] == "not_our_fault"


@pytest.mark.parametrize("ending", ["escalate", "resolve", "close"])
def test_a_finished_run_cannot_end_again(api, acme, device, ending):
    run_id = started(api, acme[1], device)["run_id"]
    api.post(f"{RUNS}/{run_id}/resolve", {}, acme[1])
    before = stored()
    body = refused(api.post(f"{RUNS}/{run_id}/{ending}", {}, acme[1]), 409, 4001)
    assert "already resolved" in body["message"]
    assert stored() == before


def test_a_paused_run_must_be_resumed_before_its_step_is_acted_on(api, acme, device):
    run_id = started(api, acme[1], device)["run_id"]
    paused = acted(api, acme[1], run_id, "supply-power", action="choose", choice="supply-bad")
    assert paused["status"] == "paused"
    assert paused["current_step"]["key"] == "supply-power"
    body = refused(act(api, acme[1], run_id, "supply-power", action="continue"), 409, 4001)
    assert "resume" in body["message"]
    assert body["details"] == {"status": "paused", "current_step": "supply-power"}
    resumed = api.post(f"{RUNS}/{run_id}/resume", None, acme[1])
    assert resumed.status_code == 200, resumed.content
    assert resumed.json()["data"]["status"] == "open"
    refused(api.post(f"{RUNS}/{run_id}/resume", None, acme[1]), 409, 4001)
    assert (
        acted(api, acme[1], run_id, "supply-power", action="choose", choice="supply-ok")[
            "current_step"
        ]["key"]
        == "fault-log"
    )


def test_a_paused_run_can_still_be_closed(api, acme, device):
    run_id = started(api, acme[1], device)["run_id"]
    acted(api, acme[1], run_id, "supply-power", action="choose", choice="supply-bad")
    closed = api.post(f"{RUNS}/{run_id}/close", {"reason": "site_supply"}, acme[1])
    assert closed.json()["data"]["status"] == "closed"


# --- Starting: refusals --------------------------------------------------------------------------


def test_one_unfinished_run_of_a_runbook_per_device(api, acme, device):
    first = started(api, acme[1], device)["run_id"]
    before = stored()
    body = refused(start(api, acme[1], device), 409, 4001)
    assert body["details"] == {"run_id": first, "status": "open"}
    assert first in body["message"]
    acted(api, acme[1], first, "supply-power", action="choose", choice="supply-bad")
    assert refused(start(api, acme[1], device), 409, 4001)["details"]["status"] == "paused"
    assert stored()[0] == before[0]
    other = started(api, acme[1], device, PREPARING)  # another runbook is fine
    assert other["runbook"]["slug"] == PREPARING
    api.post(f"{RUNS}/{first}/close", {"reason": "false_alarm"}, acme[1])
    assert started(api, acme[1], device)["run_id"] != first


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"runbook": "no-such-runbook"}, "Runbook 'no-such-runbook'"),
        ({"runbook": POWER_UP, "connector_id": 7}, "Connector 7"),
    ],
)
def test_unknown_runbook_or_connector_is_not_found(api, acme, device, body, words):
    before = stored()
    response = api.post(f"/v1/operator/devices/{device.device_id}/runbook-runs", body, acme[1])
    assert words in refused(response, 404, 3001)["message"]
    assert stored() == before


def test_another_operators_device_or_an_unknown_one_is_not_found(api, acme, rival, device):
    foreign = refused(start(api, rival[1], device), 404, 3001)
    assert "Device" in foreign["message"]
    path = "/v1/operator/devices/dvc_000000000000/runbook-runs"
    refused(api.post(path, {"runbook": POWER_UP}, acme[1]), 404, 3001)
    assert not RunbookExecution.objects.exists()


# --- Acting on a step: refusals ------------------------------------------------------------------


@pytest.fixture
def run_id(api, acme, device) -> str:
    return started(api, acme[1], device)["run_id"]


def test_only_the_current_step_can_be_acted_on(api, acme, run_id):
    before = stored()
    body = refused(act(api, acme[1], run_id, "fault-log", action="verify"), 409, 4001)
    assert "at step 'supply-power'" in body["message"]
    assert body["details"] == {"status": "open", "current_step": "supply-power"}
    refused(act(api, acme[1], run_id, "no-such-step", action="continue"), 409, 4001)
    assert stored() == before


def test_an_answer_the_step_does_not_offer(api, acme, run_id):
    before = stored()
    body = refused(
        act(api, acme[1], run_id, "supply-power", action="choose", choice="x"), 400, 1001
    )
    assert body["details"]["field"] == "choice"
    assert body["details"]["choices"] == ["supply-ok", "supply-bad"]
    assert "supply-ok, supply-bad" in body["message"]
    assert stored() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "choose"}, "choice"),
        ({"action": "done"}, "note"),
        ({"action": "done", "note": "   "}, "note"),
    ],
)
def test_choose_needs_a_choice_and_done_needs_a_note(api, acme, run_id, body, field):
    before = stored()
    response = api.post(f"{RUNS}/{run_id}/steps/supply-power", body, acme[1])
    assert refused(response, 400, 1002)["details"]["field"] == field
    assert stored() == before


def test_verify_or_command_on_a_step_without_one(api, acme, device):
    run_id = started(api, acme[1], device, PREPARING, connector_id=1)["run_id"]
    before = stored()
    no_check = refused(act(api, acme[1], run_id, "vehicle-handshake", action="verify"), 400, 1001)
    assert "no automatic check" in no_check["message"]
    no_command = refused(
        act(api, acme[1], run_id, "vehicle-handshake", action="command", confirm=True), 400, 1001
    )
    assert "no remote command" in no_command["message"]
    assert stored() == before


def test_a_finished_run_takes_no_step(api, acme, run_id):
    api.post(f"{RUNS}/{run_id}/close", {}, acme[1])
    body = refused(act(api, acme[1], run_id, "supply-power", action="verify"), 409, 4001)
    assert body["details"]["status"] == "closed"


# --- Scopes and scoping --------------------------------------------------------------------------


def test_a_read_only_token_reads_but_never_writes(api, acme, reader, device, run_id):
    assert api.get(RUNS, reader).status_code == 200
    assert api.get(f"{RUNS}/{run_id}", reader).status_code == 200
    before = stored()
    writes = [
        (f"/v1/operator/devices/{device.device_id}/runbook-runs", {"runbook": PREPARING}),
        (f"{RUNS}/{run_id}/steps/supply-power", {"action": "verify"}),
        (f"{RUNS}/{run_id}/resume", None),
        (f"{RUNS}/{run_id}/escalate", {}),
        (f"{RUNS}/{run_id}/resolve", {}),
        (f"{RUNS}/{run_id}/close", {}),
    ]
    for path, body in writes:
        refused(api.post(path, body, reader), 403, 2003)
    assert stored() == before


def test_no_token_is_401(api, run_id):
    refused(api.get(RUNS), 401, 2001)
    refused(api.post(f"{RUNS}/{run_id}/resolve", {}), 401, 2001)


def test_another_operators_run_is_not_found_anywhere(api, acme, rival, run_id):
    assert api.get(RUNS, rival[1]).json()["data"]["total"] == 0
    refused(api.get(f"{RUNS}/{run_id}", rival[1]), 404, 3001)
    before = stored()
    for path, body in [
        (f"{RUNS}/{run_id}/steps/supply-power", {"action": "verify"}),
        (f"{RUNS}/{run_id}/resume", None),
        (f"{RUNS}/{run_id}/escalate", {}),
        (f"{RUNS}/{run_id}/resolve", {}),
        (f"{RUNS}/{run_id}/close", {}),
    ]:
        refused(api.post(path, body, rival[1]), 404, 3001)
    assert stored() == before
    assert api.get(f"{RUNS}/{run_id}", acme[1]).json()["data"]["status"] == "open"
    refused(api.get(f"{RUNS}/run_00000000000000000", acme[1]), 404, 3001)


# --- The list ------------------------------------------------------------------------------------


def test_the_list_pages_and_filters(
    api, acme, rival, device, site_for, assigned_device, django_assert_max_num_queries
):
    other = assigned_device(acme[0], site_for(acme[0], "Yard"))
    first = started(api, acme[1], device)["run_id"]
    second = started(api, acme[1], device, PREPARING)["run_id"]
    third = started(api, acme[1], other)["run_id"]
    api.post(f"{RUNS}/{first}/resolve", {}, acme[1])
    assigned_device(rival[0])

    def listed(**params) -> list[str]:
        response = api.get(RUNS, acme[1], **params)
        assert response.status_code == 200, response.content
        return [item["run_id"] for item in response.json()["data"]["items"]]

    assert listed() == [third, second, first]
    assert listed(device_id=device.device_id) == [second, first]
    assert listed(status="resolved") == [first]
    assert listed(status="open", device_id=other.device_id) == [third]
    assert listed(device_id="dvc_000000000000") == []
    page = api.get(RUNS, acme[1], size=1, page=2).json()["data"]
    assert (page["total"], page["page"], page["size"]) == (3, 2, 1)
    assert [item["run_id"] for item in page["items"]] == [second]
    item = page["items"][0]
    assert item["current_step"]["key"] == "vehicle-handshake"
    assert "steps" not in item and "moves" not in item
    with django_assert_max_num_queries(8):
        assert api.get(RUNS, acme[1], size=100).status_code == 200


@pytest.mark.parametrize(
    "params",
    [{"status": "stuck"}, {"status": "OPEN"}, {"page": 0}, {"size": 101}, {"page": 10**12},
     {"device_id": "d" * 200}],
)  # fmt: skip
def test_bad_list_filters_are_1001(api, acme, params):
    refused(api.get(RUNS, acme[1], **params), 400, 1001)


# --- Hostile bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "body"),
    [
        ("/steps/supply-power", {"action": "done", "note": "a\x00b"}),
        ("/steps/supply-power", {"action": "done", "note": "x" * 2001}),
        ("/steps/supply-power", {"action": "done", "note": 42}),
        ("/steps/supply-power", {"action": "choose", "choice": "c" * 81}),
        ("/steps/supply-power", {"action": "choose", "choice": ["supply-ok"]}),
        ("/steps/supply-power", {"action": "jump"}),
        ("/steps/supply-power", {"action": None}),
        ("/steps/supply-power", {"action": "command", "confirm": "yes"}),
        ("/steps/supply-power", ["verify"]),
        ("/escalate", {"target": "L2\x00"}),
        ("/escalate", {"target": "t" * 65}),
        ("/escalate", {"note": {"nested": "x"}}),
        ("/resolve", {"note": "x" * 2001}),
        ("/close", {"reason": "bored"}),
        ("/close", {"reason": "not_our_fault", "note": "\x00"}),
    ],
)
def test_hostile_bodies_are_1001_and_store_nothing(api, acme, run_id, suffix, body):
    before = stored()
    response = api.post(f"{RUNS}/{run_id}{suffix}", body, acme[1])
    refused(response, 400, 1001)
    assert stored() == before
    assert RunbookExecution.objects.get(run_id=run_id).status == "open"


@pytest.mark.parametrize(
    "body",
    [
        {"runbook": POWER_UP + "\x00"},
        {"runbook": "r" * 81},
        {"runbook": ""},
        {"runbook": 7},
        {"runbook": POWER_UP, "connector_id": "1"},
        {"runbook": POWER_UP, "connector_id": True},
        {"runbook": POWER_UP, "connector_id": 0},
        {"runbook": POWER_UP, "connector_id": 256},
        {"runbook": POWER_UP, "connector_id": 2**63},
        {"runbook": POWER_UP, "connector_id": 1.5},
    ],
)
def test_hostile_start_bodies_are_1001(api, acme, device, body):
    path = f"/v1/operator/devices/{device.device_id}/runbook-runs"
    refused(api.post(path, body, acme[1]), 400, 1001)
    assert not RunbookExecution.objects.exists()


def test_a_missing_action_or_runbook_is_1002(api, acme, device, run_id):
    response = api.post(f"{RUNS}/{run_id}/steps/supply-power", {"note": "hi"}, acme[1])
    assert refused(response, 400, 1002)["details"]["field"] == "action"
    path = f"/v1/operator/devices/{device.device_id}/runbook-runs"
    assert refused(api.post(path, {}, acme[1]), 400, 1002)["details"]["field"] == "runbook"


@pytest.mark.parametrize(("ending", "status"), [("escalate", "escalated"), ("resolve", "resolved"),
                                               ("close", "closed")])  # fmt: skip
def test_the_ends_take_no_body_too(api, acme, run_id, ending, status):
    response = api.post(f"{RUNS}/{run_id}/{ending}", None, acme[1])
    assert response.status_code == 200, response.content
    assert response.json()["data"]["status"] == status


def test_a_body_that_is_not_json_is_1001(api, acme, run_id):
    response = api.raw(
        "post", f"{RUNS}/{run_id}/steps/supply-power", b'{"action": "verify"', "application/json",
        HTTP_AUTHORIZATION=f"Bearer {acme[1]}",
    )  # fmt: skip
    refused(response, 400, 1001)


def test_hostile_path_values(api, acme, run_id):
    refused(api.get(f"{RUNS}/run_%00", acme[1]), 400, 1001)
    refused(act(api, acme[1], run_id, "supply%00power", action="verify"), 400, 1001)
    refused(act(api, acme[1], run_id, "s" * 500, action="verify"), 409, 4001)
