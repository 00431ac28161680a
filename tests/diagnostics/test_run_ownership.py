"""A runbook run belongs to the operator that owned the charger when it started: a
charger moved from Acme to Rival and back leaves each operator reading its own runs (list,
charger filter, detail, run page, escalation checklist, audit trail) and nothing of the
other's; Acme's unfinished run is closed by the platform at the move and can no longer
act on the charger; the migration gives existing runs today's owner."""

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from diagnostics.models import RunbookExecution
from diagnostics.services.loader import load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from fleet import signals
from fleet.actors import Actor
from fleet.errors import Conflict, NotFound
from fleet.models import AuditEntry, Command, Connector, Device
from fleet.services import provisioning

pytestmark = pytest.mark.django_db

RUNS = "/v1/operator/runbook-runs"
POWER_UP = "charger-faulting-on-power-up"
PREPARING = "connector-stuck-preparing"
SECRET_NOTE = "customer Smith, gate code 4711"


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def sites(acme, rival, site_for):
    return site_for(acme[0], "Acme Depot"), site_for(rival[0], "Rival Yard")


@pytest.fixture
def charger(acme, sites, assigned_device):
    device = assigned_device(acme[0], sites[0], model="TP-DC180", firmware_version="3.1.0")
    Connector.objects.create(device=device, connector_id=1, state="idle")
    return device


def move(device: Device, site) -> None:
    """Put the charger on another operator's site: the fleet service sends
    device_owner_changed inside its transaction."""
    provisioning.assign_device(Actor.platform(), device.device_id, site.site_id)


def start(api, token, device, slug=POWER_UP):
    return api.post(
        f"/v1/operator/devices/{device.device_id}/runbook-runs", {"runbook": slug}, token
    )


def started(api, token, device, slug=POWER_UP) -> str:
    response = start(api, token, device, slug)
    assert response.status_code == 200, response.content
    return response.json()["data"]["run_id"]


def listed(api, token, **filters) -> set[str]:
    response = api.get(RUNS, token, **filters)
    assert response.status_code == 200, response.content
    return {run["run_id"] for run in response.json()["data"]["items"]}


def detail(api, token, run_id):
    return api.get(f"{RUNS}/{run_id}", token)


def assert_reads(api, token, device, own: set[str], foreign: set[str]) -> None:
    """The operator lists, filters and reads exactly its own runs; the other's are 404."""
    assert listed(api, token) == own
    assert listed(api, token, device_id=device.device_id) == own
    for run_id in own:
        assert detail(api, token, run_id).status_code == 200
    for run_id in foreign:
        response = detail(api, token, run_id)
        assert response.status_code == 404 and response.json()["code"] == 3001


def test_runs_stay_with_the_operator_they_started_under_through_a_move_and_back(
    api, acme, rival, sites, charger
):
    acme_site, rival_site = sites
    escalated = started(api, acme[1], charger, PREPARING)
    body = {"note": SECRET_NOTE, "target": "L2"}
    assert api.post(f"{RUNS}/{escalated}/escalate", body, acme[1]).status_code == 200
    open_run = started(api, acme[1], charger)
    chosen = {"action": "choose", "choice": "supply-ok", "note": SECRET_NOTE}
    assert api.post(f"{RUNS}/{open_run}/steps/supply-power", chosen, acme[1]).status_code == 200
    acme_runs = {escalated, open_run}

    move(charger, rival_site)

    # Rival starts with no runs for the charger and cannot read Acme's.
    assert_reads(api, rival[1], charger, own=set(), foreign=acme_runs)
    # Acme keeps reading all of them, though the charger is no longer in its fleet.
    assert_reads(api, acme[1], charger, own=acme_runs, foreign=set())
    escalation = detail(api, acme[1], escalated).json()["data"]["escalation"]
    assert escalation["note"] == SECRET_NOTE
    assert detail(api, acme[1], open_run).json()["data"]["steps"][0]["note"] == SECRET_NOTE
    # Acme's unfinished run was closed by the platform at the move, saying why.
    closed = detail(api, acme[1], open_run).json()["data"]
    assert closed["status"] == "closed" and closed["current_step"] is None
    last = closed["moves"][-1]
    assert (last["action"], last["to"], last["by"]) == ("close", "closed", "platform")
    assert last["why"] == "the charger moved to another operator"
    # …and can no longer act on the charger through it (no command goes out).
    commands = Command.objects.count()
    for path, payload in [
        (f"{RUNS}/{open_run}/steps/fault-log", {"action": "verify"}),
        (f"{RUNS}/{open_run}/resume", {}),
        (f"{RUNS}/{open_run}/escalate", {}),
        (f"{RUNS}/{open_run}/resolve", {}),
    ]:
        response = api.post(path, payload, acme[1])
        assert response.status_code == 409 and response.json()["code"] == 4001, path
    assert Command.objects.count() == commands
    assert start(api, acme[1], charger).status_code == 404  # not Acme's charger any more
    # Each trail shows its own runs' story: Acme's the closing, Rival's nothing of them.
    acme_trail = api.get("/v1/operator/audit-logs", acme[1], resource_type="runbook_run")
    acme_actions = [(e["resource_id"], e["action"]) for e in acme_trail.json()["data"]["items"]]
    assert (open_run, "close_runbook") in acme_actions and (escalated, "escalate") in acme_actions
    rival_trail = api.get("/v1/operator/audit-logs", rival[1], resource_type="runbook_run")
    assert rival_trail.json()["data"]["total"] == 0

    # Rival's own run on the charger (Acme's closed run is not in its way).
    rival_run = started(api, rival[1], charger)
    assert_reads(api, rival[1], charger, own={rival_run}, foreign=acme_runs)
    assert_reads(api, acme[1], charger, own=acme_runs, foreign={rival_run})

    move(charger, acme_site)  # and back: nothing merges

    assert_reads(api, acme[1], charger, own=acme_runs, foreign={rival_run})
    assert_reads(api, rival[1], charger, own={rival_run}, foreign=acme_runs)
    assert detail(api, rival[1], rival_run).json()["data"]["status"] == "closed"
    again = started(api, acme[1], charger)
    assert_reads(api, acme[1], charger, own=acme_runs | {again}, foreign={rival_run})
    owners = dict(RunbookExecution.objects.values_list("run_id", "operator_id"))
    assert owners == {
        escalated: acme[0].operator_id, open_run: acme[0].operator_id,
        again: acme[0].operator_id, rival_run: rival[0].operator_id,
    }  # fmt: skip


def test_a_run_whose_charger_moved_without_the_signal_cannot_act_on_it(acme, rival, sites, charger):
    """Belt and braces: even were the move not announced, the run's next move sees that the
    charger is no longer its operator's and refuses."""
    run = engine.start(Actor.platform(acme[0].operator_id), charger, POWER_UP)
    # A bulk update of the site column: no save signal, so no announcement.
    Device.objects.filter(pk=charger.pk).update(site=sites[1])
    with pytest.raises(Conflict, match="moved to another operator"):
        engine.act_on_step(Actor.platform(), run, "supply-power", "verify")
    with pytest.raises(Conflict, match="moved to another operator"):
        engine.resolve(Actor.platform(), run)
    run.refresh_from_db()
    assert (run.status, run.moves, run.results.count()) == ("open", [], 0)


def test_a_start_checked_before_the_move_and_carried_out_after_it_is_refused(
    acme, rival, sites, charger
):
    """The API found the charger in Acme's fleet, then the charger moved before the run
    was created: under the charger's lock the start sees the new owner and refuses."""
    provisioning.assign_device(Actor.platform(), charger.device_id, sites[1].site_id)
    with pytest.raises(NotFound):
        engine.start_run(Actor.platform(acme[0].operator_id), charger, POWER_UP)
    assert not RunbookExecution.objects.exists()
    run = engine.start_run(Actor.platform(rival[0].operator_id), charger, POWER_UP)
    assert run.operator_id == rival[0].operator_id


def test_a_move_closes_only_runs_that_were_not_the_new_owners(acme, rival, sites, charger):
    ours = engine.start(Actor.platform(), charger, POWER_UP)
    with transaction.atomic():
        # Told twice (the service, and a retry): the run is closed once.
        for _ in range(2):
            signals.device_owner_changed.send(
                sender=Device, device_ids=[charger.device_id], operator_before=None,
                operator_after=acme[0].operator_id, actor=Actor.platform(),
            )  # fmt: skip
    ours.refresh_from_db()
    assert (ours.status, ours.moves) == ("open", [])
    move(charger, sites[1])
    move(charger, sites[1])
    ours.refresh_from_db()
    assert ours.status == "closed" and [m["action"] for m in ours.moves] == ["close"]
    entries = AuditEntry.objects.filter(resource_id=ours.run_id, action="close_runbook")
    assert list(entries.values_list("operator_id", "actor")) == [(acme[0].operator_id, "platform")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_runs_their_chargers_owner_and_one_unfinished_run(
    make_client, site_for, assigned_device, register_device
):
    load_runbooks()
    acme, _ = make_client("Acme Charging")
    on_site = assigned_device(acme, site_for(acme, "Depot"))
    loose = Device.objects.get(device_id=register_device()["device_id"])
    executor = MigrationExecutor(connection)
    executor.migrate([("diagnostics", "0006_runbook_run_id")])
    try:
        old = executor.loader.project_state([("diagnostics", "0006_runbook_run_id")]).apps
        Run = old.get_model("diagnostics", "RunbookExecution")
        made = {}
        for name, device, slug, status in [
            ("older", on_site, POWER_UP, "open"),
            ("newer", on_site, POWER_UP, "paused"),
            ("ended", on_site, POWER_UP, "resolved"),
            ("other", on_site, PREPARING, "open"),
            ("loose", loose, POWER_UP, "open"),
        ]:
            made[name] = Run.objects.create(
                device_id=device.device_id, runbook_id=slug, status=status,
                current_step="supply-power", started_by="user:old",
            ).run_id  # fmt: skip
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    runs = {r.run_id: r for r in RunbookExecution.objects.all()}
    owner = {name: runs[run_id].operator_id for name, run_id in made.items()}
    assert owner == {
        "older": acme.operator_id, "newer": acme.operator_id, "ended": acme.operator_id,
        "other": acme.operator_id, "loose": None,
    }  # fmt: skip
    status = {name: runs[run_id].status for name, run_id in made.items()}
    assert status == {
        "older": "closed",
        "newer": "paused",
        "ended": "resolved",
        "other": "open",
        "loose": "open",
    }
    assert runs[made["older"]].moves[-1]["why"].startswith("a newer run of this runbook")
