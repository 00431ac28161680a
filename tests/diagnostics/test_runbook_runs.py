"""A run's life beyond the branches: its public id, audited start, the moves it made and
why, ending it by hand, and runs of another operator's chargers not found."""

import pytest

from diagnostics.models import RunbookExecution
from diagnostics.queries.runbooks import runs
from diagnostics.services.loader import load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from diagnostics.services.runbooks.runs import get_run
from fleet.actors import Actor
from fleet.errors import Conflict, NotFound
from fleet.models import AuditEntry

pytestmark = pytest.mark.django_db

ENGINEER = Actor.platform()


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def run(device):
    return engine.start(ENGINEER, device, "charger-faulting-on-power-up")


def test_a_run_has_a_public_id_and_its_start_is_audited(run, device):
    assert run.run_id.startswith("run_") and len(run.run_id) == 20
    entry = AuditEntry.objects.get(action="start_runbook")
    assert entry.resource_id == run.run_id
    assert entry.operator_id == device.site.operator_id


def test_a_move_records_the_step_the_target_and_why(run):
    moved = engine.advance(ENGINEER, run, choice="supply-ok", note="meter at the cabinet")
    assert moved.current_step == "fault-log"
    (move,) = moved.moves
    assert (move["step"], move["action"], move["to"]) == ("supply-power", "next", "fault-log")
    assert move["why"].startswith("chosen: Measured: all phases present")


@pytest.mark.parametrize(
    ("end", "status"),
    [(engine.resolve, "resolved"), (engine.close, "closed")],
)
def test_a_run_ended_by_hand_is_audited_and_cannot_end_twice(run, end, status):
    ended = end(ENGINEER, run, note="cable replaced")
    assert ended.status == status and "cable replaced" in ended.outcome_note
    assert ended.moves[-1]["to"] == status
    assert AuditEntry.objects.filter(resource_id=run.run_id, action=f"{end.__name__}_runbook")
    with pytest.raises(Conflict):
        end(ENGINEER, RunbookExecution.objects.get(pk=run.pk))


def test_another_operators_run_is_not_found(run, make_client, device):
    rival, _ = make_client("Rival Energy")
    with pytest.raises(NotFound):
        get_run(rival.operator_id, run.run_id)
    with pytest.raises(NotFound):
        get_run(None, run.run_id)
    assert get_run(device.site.operator_id, run.run_id) == run
    assert list(runs(rival.operator_id)) == []
    assert list(runs(device.site.operator_id, status="open")) == [run]
