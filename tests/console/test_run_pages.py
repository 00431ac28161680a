"""Runbooks and runs in the console: the procedures readable by everyone, a run started
from a charger's page and carried step by step by an engineer (checks with their
evidence, answers, commands, the route taken and why), ended or escalated with a
printable checklist; read-only for viewers, invisible to other operators."""

import json
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from diagnostics.models import RunbookExecution
from diagnostics.services.loader import load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from fleet.actors import Actor
from fleet.models import AuditEntry, Command, DeviceEvent, Site
from fleet.services.commands import report_command_status

pytestmark = pytest.mark.django_db

POWER_UP = "charger-faulting-on-power-up"


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def charger(acme, site_for, assigned_device):
    return assigned_device(
        acme.client, site_for(acme.client, "Acme Depot"), model="TP-DC180", firmware_version="3.1.0"
    )


def faults(device, code, count):
    for minute in range(count):
        DeviceEvent.objects.create(
            device=device, connector_id=1, event_type="fault", fault_code=code,
            timestamp=timezone.now() - timedelta(minutes=minute + 1),
        )  # fmt: skip


@pytest.fixture
def cluster(acme, charger, site_for, assigned_device):
    """F-0421 on this charger and on a peer at another site, both on firmware 3.1.0."""
    peer = assigned_device(acme.client, site_for(acme.client, "Far Yard"), firmware_version="3.1.0")
    faults(charger, "F-0421", 2)
    faults(peer, "F-0421", 1)
    return charger


def started(browser, device, runbook=POWER_UP) -> RunbookExecution:
    response = browser.post(f"/devices/{device.device_id}/runs/", {"runbook": runbook})
    run = RunbookExecution.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.run_id}/"
    return run


def step(browser, run, action, **fields):
    run.refresh_from_db()
    return browser.post(
        f"/runs/{run.run_id}/step/",
        {"action": action, "step": run.current_step, **fields},
        follow=True,
    )


def test_runbooks_read_as_procedures_for_any_role(signed_in, acme):
    browser = signed_in("Acme Charging", "viewer")
    listing = browser.get("/runbooks/").content.decode()
    assert "Charger faults after power-up" in listing and f"/runbooks/{POWER_UP}/" in listing
    page = browser.get(f"/runbooks/{POWER_UP}/").content.decode()
    assert "Check the incoming supply" in page
    assert "If the check says pass: go on to the next step." in page
    assert (
        "If its pattern is F-0421 repeated (a cluster): "
        "go to step “Look for a firmware cluster of F-0421”." in page
    )
    assert (
        "escalate" in page.lower()
        and "<strong>Event log</strong>" in page
        and "event_log" not in page
    )
    assert browser.get("/runbooks/no-such-runbook/").status_code == 404


def test_an_engineer_starts_a_run_from_the_chargers_page(signed_in, charger):
    browser = signed_in("Acme Charging", "engineer", username="erin")
    faults(charger, "F-0421", 1)
    device_page = browser.get(f"/devices/{charger.device_id}/").content.decode()
    assert "Start a run" in device_page
    run = started(browser, charger)
    assert (run.runbook_id, run.current_step, run.started_by) == (
        POWER_UP, "supply-power", "user:erin",
    )  # fmt: skip
    assert AuditEntry.objects.filter(action="start_runbook", actor="user:erin").exists()
    page = browser.get(f"/runs/{run.run_id}/").content.decode()
    assert "Now: Check the incoming supply" in page
    assert 'hx-trigger="load"' in page  # the check runs as the engineer arrives
    assert run.run_id in browser.get(f"/devices/{charger.device_id}/").content.decode()


@pytest.mark.parametrize(
    ("fields", "said"),
    [({"runbook": "nope"}, "Runbook 'nope' not found"), ({"runbook": "a b"}, "valid"),
     ({"runbook": POWER_UP, "connector_id": "0"}, "greater than")],
)  # fmt: skip
def test_a_run_that_cannot_start_says_why(signed_in, charger, fields, said):
    browser = signed_in("Acme Charging", "engineer")
    response = browser.post(f"/devices/{charger.device_id}/runs/", fields, follow=True)
    assert said in unescape(response.content.decode())
    assert not RunbookExecution.objects.exists()


def test_the_f0421_cluster_route_is_taken_with_its_evidence_shown(signed_in, cluster):
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, cluster)
    step(browser, run, "choose", choice="supply-ok", note="400 V on all phases")
    run.refresh_from_db()
    assert run.current_step == "fault-log"

    # The check, as the page's arrival request runs it: the fragment alone, with evidence.
    fragment = browser.post(
        f"/runs/{run.run_id}/step/", {"action": "verify", "step": "fault-log"},
        headers={"HX-Request": "true"},
    ).content.decode()  # fmt: skip
    assert fragment.lstrip().startswith('<div id="step-check"')
    assert "Automatic check: pattern of the recent faults" in fragment
    assert "F-0421 repeated (a cluster)" in fragment and "f0421_cluster" not in fragment
    assert "F-0421" in fragment  # the events it looked at

    page = step(browser, run, "continue").content.decode()
    run.refresh_from_db()
    assert run.current_step == "firmware-cluster"
    assert "Read the fault log → Look for a firmware cluster of F-0421" in page
    assert "its pattern is F-0421 repeated (a cluster)" in page  # why the route was taken

    step(browser, run, "verify")
    page = browser.get(f"/runs/{run.run_id}/").content.decode()
    assert "Cluster found" in page and "Found: F-0421 on 2 chargers running 3.1.0" in page
    assert "3.1.0" in page and "by firmware" in page


def test_a_step_that_has_moved_on_is_refused_and_nothing_recorded(signed_in, charger):
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, charger)
    response = browser.post(
        f"/runs/{run.run_id}/step/", {"action": "verify", "step": "fault-log"}, follow=True
    )
    assert "The run is at step 'supply-power'" in unescape(response.content.decode())
    assert not run.results.exists()


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"action": "done", "note": ""}, "a ticked step needs a note"),
        ({"action": "choose"}, "Choose one of"),
        ({"action": "choose", "choice": "nope"}, "Choose one of"),
        ({"action": "explode"}, "Select a valid choice"),
        ({"action": "done", "note": "x" * 2001}, "at most 2000"),
    ],
)  # fmt: skip
def test_bad_step_input_records_nothing(signed_in, charger, fields, said):
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, charger)
    response = step(browser, run, **fields)
    assert said in unescape(response.content.decode())
    run.refresh_from_db()
    assert run.current_step == "supply-power" and not run.results.exists()


def at_reboot(browser, device) -> RunbookExecution:
    faults(device, "F-0411", 1)
    run = started(browser, device)
    step(browser, run, "choose", choice="supply-ok")
    step(browser, run, "verify")
    step(browser, run, "continue")  # single F-0411 → firmware
    step(browser, run, "verify")
    step(browser, run, "continue")  # 3.1.0 is current → reboot
    run.refresh_from_db()
    assert run.current_step == "reboot"
    return run


def test_a_low_risk_step_command_goes_out_and_its_status_shows(signed_in, charger):
    browser = signed_in("Acme Charging", "engineer")
    run = at_reboot(browser, charger)
    page = step(browser, run, "command").content.decode()
    command = Command.objects.get(command="reboot")
    run.refresh_from_db()
    assert run.command_id == command.command_id
    assert 'id="run-command"' in page and "queued" in page


def test_a_medium_risk_step_command_needs_an_operator_and_a_confirmation(
    signed_in, charger, console_user
):
    engineer = signed_in("Acme Charging", "engineer")
    run = engine.start(Actor.platform(), charger, "connector-stuck-preparing", connector_id=1)
    stop_step = next(
        s for s in run.runbook.steps if (s.get("command") or {}).get("type") == "stop_charging"
    )
    RunbookExecution.objects.filter(pk=run.pk).update(current_step=stop_step["key"])
    refused = engineer.post(
        f"/runs/{run.run_id}/step/", {"action": "command", "step": stop_step["key"]}
    )
    assert refused.status_code == 403

    operator = signed_in("Acme Charging", "operator")
    asked = operator.post(
        f"/runs/{run.run_id}/step/", {"action": "command", "step": stop_step["key"]}
    )
    assert "Confirm: send stop_charging" in asked.content.decode()
    assert not Command.objects.exists()
    operator.post(
        f"/runs/{run.run_id}/step/",
        {"action": "command", "step": stop_step["key"], "confirmed": "yes"},
    )
    assert Command.objects.get().command == "stop_charging"


def test_escalating_opens_a_printable_checklist_and_a_json_download(signed_in, charger):
    faults(charger, "F-0411", 3)
    browser = signed_in("Acme Charging", "engineer", username="erin")
    run = started(browser, charger)
    step(browser, run, "choose", choice="supply-ok", note="measured at the cabinet")
    response = browser.post(f"/runs/{run.run_id}/escalate/", {"note": "needs L2"})
    assert response["Location"] == f"/runs/{run.run_id}/escalation/"
    page = browser.get(response["Location"]).content.decode()
    assert "Escalation to L2" in page and "needs L2" in page
    assert "F-0411" in page and "measured at the cabinet" in page
    assert "@media print" not in page  # the print rules live in the stylesheet

    download = browser.get(f"/runs/{run.run_id}/escalation.json")
    assert download["Content-Disposition"] == f'attachment; filename="escalation-{run.run_id}.json"'
    body = json.loads(download.content)
    assert body["escalation"]["note"] == "needs L2"
    assert body["escalation"]["checklist"]["event_log"][0]["fault_code"] == "F-0411"
    assert body["steps"][0]["note"] == "measured at the cabinet"


def test_an_escalation_hands_over_where_the_charger_is_what_was_sent_and_what_each_check_found(
    signed_in, charger
):
    Site.objects.filter(pk=charger.site_id).update(address="12 Quay Road, Bristol")
    browser = signed_in("Acme Charging", "operator", username="olga")
    run = at_reboot(browser, charger)
    step(browser, run, "command")  # the reboot goes out, and the charger takes it
    reboot = Command.objects.get(command="reboot")
    report_command_status(charger.device_id, reboot.command_id, "accepted", timezone.now())
    report_command_status(charger.device_id, reboot.command_id, "failed", timezone.now(), "busy")
    browser.post(f"/runs/{run.run_id}/escalate/", {"note": "reboot refused"})

    body = json.loads(browser.get(f"/runs/{run.run_id}/escalation.json").content)["escalation"]
    assert body["site"] == {"name": "Acme Depot", "address": "12 Quay Road, Bristol"}
    assert body["charger"]["serial"] == charger.sn
    assert body["charger"]["firmware_version"] == "3.1.0"
    [sent] = body["commands"]
    assert (sent["command"], sent["status"]) == ("reboot", "failed")
    assert [change["status"] for change in sent["history"]] == ["queued", "accepted", "failed"]
    assert all(change["at"].endswith("+00:00") for change in sent["history"])  # zone given
    firmware = next(check for check in body["checks"] if check["step"] == "firmware")
    assert firmware["verdict"] == "Firmware current"
    assert firmware["evidence"]["latest_stable"] == "3.1.0"

    page = browser.get(f"/runs/{run.run_id}/escalation/").content.decode()
    assert "Acme Depot, 12 Quay Road, Bristol" in page
    assert "Commands sent to the charger during the run" in page and "busy" in page
    assert "What each automatic check found" in page and "Firmware current" in page
    assert " UTC" in page  # every time says its zone
    assert "limit c" not in page and "latest_stable" not in page  # keys read as words


def test_a_run_not_escalated_has_no_checklist(signed_in, charger):
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, charger)
    assert browser.get(f"/runs/{run.run_id}/escalation/").status_code == 302
    assert browser.get(f"/runs/{run.run_id}/escalation.json").status_code == 404


@pytest.mark.parametrize(("how", "status"), [("resolve", "resolved"), ("close", "closed")])
def test_a_run_ends_once(signed_in, charger, how, status):
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, charger)
    browser.post(f"/runs/{run.run_id}/{how}/", {"note": "cable reseated", "reason": "vehicle"})
    run.refresh_from_db()
    assert run.status == status and "cable reseated" in run.outcome_note
    again = browser.post(f"/runs/{run.run_id}/{how}/", {"note": "again"}, follow=True)
    assert f"already {status}" in unescape(again.content.decode())


@pytest.mark.parametrize(
    ("how", "fields", "heading"),
    [
        ("resolve", {"note": "cable reseated"}, "Resolved"),
        (
            "close",
            {"reason": "vehicle", "note": "car at fault"},
            "Closed — not our fault: the vehicle",
        ),
        ("close", {"reason": "false_alarm"}, "Closed — a false alarm"),
        ("escalate", {"note": "needs L2"}, "Escalated"),
    ],
)
def test_an_ended_run_says_how_it_ended_in_words(signed_in, charger, how, fields, heading):
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, charger)
    browser.post(f"/runs/{run.run_id}/{how}/", fields)
    page = unescape(browser.get(f"/runs/{run.run_id}/").content.decode())
    assert f'<h2 id="ended-heading">{heading}</h2>' in page


def test_a_run_that_switched_runbooks_says_it_carried_on_elsewhere(signed_in, charger):
    browser = signed_in("Acme Charging", "engineer")
    faults(charger, "F-0702", 1)
    run = started(browser, charger)
    step(browser, run, "choose", choice="supply-ok")
    step(browser, run, "verify")
    step(browser, run, "continue")  # V2G codes: on to the V2G runbook
    page = unescape(browser.get(f"/runs/{run.run_id}/").content.decode())
    assert '<h2 id="ended-heading">Closed — carried on in another runbook</h2>' in page


def test_a_viewer_reads_a_run_but_cannot_act_on_it(signed_in, charger):
    run = engine.start(Actor.platform(), charger, POWER_UP)
    viewer = signed_in("Acme Charging", "viewer")
    page = viewer.get(f"/runs/{run.run_id}/").content.decode()
    assert "Now: Check the incoming supply" in page
    assert 'hx-trigger="load"' not in page and "End the run" not in page
    assert "needs the engineer role" in page
    for path, fields in (
        ("step/", {"action": "verify", "step": "supply-power"}),
        ("escalate/", {}),
        ("resolve/", {}),
    ):
        assert viewer.post(f"/runs/{run.run_id}/{path}", fields).status_code == 403
    assert (
        viewer.post(f"/devices/{charger.device_id}/runs/", {"runbook": POWER_UP}).status_code == 403
    )
    run.refresh_from_db()
    assert run.status == "open" and not run.results.exists()


def test_another_operators_run_and_charger_are_not_found(
    signed_in, charger, rival, site_for, assigned_device
):
    run = engine.start(Actor.platform(), charger, POWER_UP)
    theirs = assigned_device(rival.client, site_for(rival.client, "Rival Yard"))
    browser = signed_in("Rival Energy", "admin")
    for path in ("", "escalation/", "escalation.json"):
        assert browser.get(f"/runs/{run.run_id}/{path}").status_code == 404
    assert browser.post(f"/runs/{run.run_id}/resolve/", {}).status_code == 404
    assert run.run_id not in browser.get("/runs/").content.decode()
    assert browser.get(f"/runs/?device={charger.device_id}").context["page"].total == 0
    mine = signed_in("Acme Charging", "admin")
    assert mine.post(f"/devices/{theirs.device_id}/runs/", {"runbook": POWER_UP}).status_code == 404


@pytest.mark.parametrize(
    "query", ["status=bogus", "page=0", "page=" + "9" * 30, "device=%00", "device=" + "x" * 70]
)
def test_hostile_run_filters_are_answered_not_crashed(signed_in, charger, query):
    response = signed_in("Acme Charging", "viewer").get(f"/runs/?{query}")
    assert response.status_code in (200, 400)


def test_hostile_run_ids_are_not_found(signed_in, charger):
    browser = signed_in("Acme Charging", "engineer")
    for run_id in ("run_%00", "x" * 500, "run_' OR 1=1 --"):
        assert browser.get(f"/runs/{run_id}/").status_code == 404


def test_the_run_page_costs_a_bounded_number_of_queries(
    signed_in, cluster, django_assert_max_num_queries
):
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, cluster)
    step(browser, run, "choose", choice="supply-ok")
    step(browser, run, "verify")
    step(browser, run, "continue")
    step(browser, run, "verify")
    with django_assert_max_num_queries(20):
        assert browser.get(f"/runs/{run.run_id}/").status_code == 200
    with django_assert_max_num_queries(12):
        assert browser.get("/runs/").status_code == 200


def test_a_second_run_of_the_same_runbook_is_refused_while_one_is_unfinished(signed_in, charger):
    browser = signed_in("Acme Charging", "engineer")
    first = started(browser, charger)
    again = browser.post(f"/devices/{charger.device_id}/runs/", {"runbook": POWER_UP}, follow=True)
    assert f"Run '{first.run_id}'" in unescape(again.content.decode())
    assert RunbookExecution.objects.count() == 1


def test_a_move_that_lost_to_another_one_is_refused_with_a_message(signed_in, charger):
    """Two engineers on one run: the second one's page is older than the run."""
    first = signed_in("Acme Charging", "engineer", username="first-engineer")
    second = signed_in("Acme Charging", "engineer", username="second-engineer")
    run = started(first, charger)
    assert second.get(f"/runs/{run.run_id}/").status_code == 200  # still open here
    first.post(f"/runs/{run.run_id}/resolve/", {"note": "fixed"})
    answer = second.post(f"/runs/{run.run_id}/escalate/", {"note": "to L2"}, follow=True)
    page = unescape(answer.content.decode())
    assert "Nothing was changed: This run is already resolved" in page
    assert "Someone may have moved the run on meanwhile" in page
    run.refresh_from_db()
    assert (run.status, run.escalation, [m["action"] for m in run.moves]) == (
        "resolved",
        None,
        ["resolve"],
    )
    trail = AuditEntry.objects.filter(resource_id=run.run_id).values_list("action", flat=True)
    assert sorted(trail) == ["resolve_runbook", "start_runbook"]


def test_a_check_that_cannot_decide_offers_answers_not_a_route(signed_in, charger):
    """No envelope is configured, so the supply check cannot decide: the page says so and
    asks for an answer, and offers no "follow the check" that would pass the step."""
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, charger)
    fragment = browser.post(
        f"/runs/{run.run_id}/step/", {"action": "verify", "step": "supply-power"},
        headers={"HX-Request": "true"},
    ).content.decode()  # fmt: skip
    assert "Cannot decide" in fragment
    assert "The check cannot decide this step" in fragment
    assert "Follow the check" not in fragment
    page = browser.get(f"/runs/{run.run_id}/").content.decode()
    assert "Follow the check" not in page
    assert "Measured: all phases present and within ±5%" in page


def test_a_check_with_a_route_says_where_following_it_leads(signed_in, charger):
    browser = signed_in("Acme Charging", "engineer")
    run = started(browser, charger)
    step(browser, run, "choose", choice="supply-ok", note="400 V")
    step(browser, run, "verify")  # no faults logged: the default route, the next step
    page = unescape(browser.get(f"/runs/{run.run_id}/").content.decode())
    assert "Follow the check's result" in page
    assert "The runbook's route for this verdict: go on to the next step" in page
