"""Two moves on one runbook run, sent at the same moment to two server processes: one wins,
the other is told 409/4001, and the run's status, its history of moves and the audit
trail tell the same story — every move that was told it succeeded is in them, and none
that was refused.

Each pair of moves is raced TRIALS times on a fresh run, the two requests released
together by a barrier, one to each server (which server gets which move alternates).
The orderings seen are printed (run with -s to read them); the assertions hold for every
ordering."""

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection

from diagnostics.models import Runbook, RunbookExecution, StepResult
from diagnostics.services.loader import load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from diagnostics.services.runbooks.runs import UNFINISHED
from fleet.actors import Actor
from fleet.models import AuditEntry, Connector
from tests.live_server import APPLICATION_NAME, LiveServer, database_url

pytestmark = pytest.mark.django_db(transaction=True)

TRIALS = 50
POWER_UP = "charger-faulting-on-power-up"
ENGINEER = Actor.platform()
Move = tuple[str, dict[str, Any]]  # (path under the run, body)


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[list[LiveServer]]:
    """One pair of server processes for every race of the module, on the test database."""
    with django_db_blocker.unblock():
        database = database_url(connection.settings_dict)
    logs: Path = tmp_path_factory.mktemp("race-servers")
    pair = [
        LiveServer(f"{database}?application_name={APPLICATION_NAME}", settings.SECRET_KEY,
                   logs / f"{name}.log")
        for name in ("a", "b")
    ]  # fmt: skip
    try:
        for server in pair:
            server.start()
        yield pair
    finally:
        for server in pair:
            server.stop()


@pytest.fixture
def fleet(servers, make_client, site_for, assigned_device):
    load_faults()
    load_runbooks()
    client, secret = make_client("Race Charging")
    charger = assigned_device(client, site_for(client, "Depot"))
    Connector.objects.create(device=charger, connector_id=1, state="idle")
    grant = {"client_id": client.client_id, "client_secret": secret}
    token = httpx.post(
        f"{servers[0].url}/v1/operator/oauth/token",
        json={**grant, "grant_type": "client_credentials"},
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    sessions = [
        httpx.Client(base_url=server.url, headers=headers, timeout=30) for server in servers
    ]
    yield charger, sessions
    for session in sessions:
        session.close()


def race(sessions: list[httpx.Client], run_ids: str | list[str], moves: list[Move], trial: int):
    """Both moves (on one run, or one on each of two runs) released together, the first
    to server A on even trials and to B on odd ones; the answers in the order of `moves`."""
    runs = [run_ids, run_ids] if isinstance(run_ids, str) else run_ids
    barrier = threading.Barrier(2)
    answers: list[httpx.Response | None] = [None, None]

    def send(index: int) -> None:
        path, body = moves[index]
        session = sessions[(index + trial) % 2]
        barrier.wait(timeout=30)
        answers[index] = session.post(f"/v1/operator/runbook-runs/{runs[index]}{path}", json=body)

    threads = [threading.Thread(target=send, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for answer in answers:
        assert answer is not None and answer.status_code in (200, 409), answer
        if answer.status_code == 409:
            body = answer.json()
            assert body["code"] == 4001 and body["data"] is None, body
    return answers


def story(run_id: str) -> tuple[RunbookExecution, list[str], list[str]]:
    """The run as stored, the actions of its moves and of its audit entries, oldest first."""
    run = RunbookExecution.objects.get(run_id=run_id)
    audited = AuditEntry.objects.filter(resource_type="runbook_run", resource_id=run_id)
    return (
        run,
        [move["action"] for move in run.moves],
        list(audited.order_by("id").values_list("action", flat=True)),
    )


def won(answer: httpx.Response) -> bool:
    return answer.status_code == 200


def fresh_run(charger, slug: str = POWER_UP) -> RunbookExecution:
    return engine.start(ENGINEER, charger, slug)


def paused_run(charger) -> RunbookExecution:
    run = fresh_run(charger)
    engine.act_on_step(ENGINEER, run, "supply-power", "choose", choice="supply-bad")
    return run


RESOLVE: Move = ("/resolve", {"note": "fixed"})
RESOLVED = ("resolve", "resolve_runbook", "resolved")
CLOSE: Move = ("/close", {"reason": "vehicle"})
CLOSED = ("close", "close_runbook", "closed")
ESCALATED = ("escalate", "escalate", "escalated")


def escalate(note: str) -> Move:
    return ("/escalate", {"note": note, "target": "L2"})


def one_winner(run_id: str, answers, endings, before: tuple[list[str], list[str]]) -> str:
    """Exactly one of two ending moves won: the run ended its way, once, in the moves and
    in the trail; the refused one left no trace."""
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    index = 0 if won(answers[0]) else 1
    action, audit_action, status = endings[index]
    run, moves, audited = story(run_id)
    assert run.status == status == answers[index].json()["data"]["status"]
    assert moves == [*before[0], action]
    assert audited == [*before[1], audit_action]
    return action


def test_resume_races_resolve(fleet):
    charger, sessions = fleet
    seen = Counter()
    for trial in range(TRIALS):
        run = paused_run(charger)
        resume, resolve = race(sessions, run.run_id, [("/resume", {}), RESOLVE], trial)
        # Resolve ends a paused run as well as an open one: it is never refused; resume is,
        # once the run is resolved — a resolved run is never reopened.
        assert won(resolve), resolve.text
        stored, moves, audited = story(run.run_id)
        assert stored.status == "resolved" and stored.outcome_note == "fixed"
        if won(resume):
            assert moves == ["pause", "resume", "resolve"]
            assert audited == ["start_runbook", "step_result", "resume_runbook", "resolve_runbook"]
        else:
            assert moves == ["pause", "resolve"]
            assert audited == ["start_runbook", "step_result", "resolve_runbook"]
        seen["resume then resolve" if won(resume) else "resolve, resume refused"] += 1
        # And it accepts no step action afterwards.
        step = sessions[trial % 2].post(
            f"/v1/operator/runbook-runs/{run.run_id}/steps/supply-power",
            json={"action": "choose", "choice": "supply-ok"},
        )
        assert step.status_code == 409 and step.json()["code"] == 4001
    print(f"resume ∥ resolve over {TRIALS} trials: {dict(seen)}")


def test_escalate_races_escalate(fleet):
    charger, sessions = fleet
    seen = Counter()
    for trial in range(TRIALS):
        run = fresh_run(charger)
        answers = race(sessions, run.run_id, [escalate("left"), escalate("right")], trial)
        one_winner(run.run_id, answers, (ESCALATED, ESCALATED), ([], ["start_runbook"]))
        winner = "left" if won(answers[0]) else "right"
        stored = RunbookExecution.objects.get(pk=run.pk)
        assert stored.escalation["note"] == stored.outcome_note == winner  # not overwritten
        seen[winner] += 1
    print(f"escalate ∥ escalate over {TRIALS} trials: winners {dict(seen)}")


def test_escalate_races_resolve(fleet):
    charger, sessions = fleet
    seen = Counter()
    for trial in range(TRIALS):
        run = fresh_run(charger)
        answers = race(sessions, run.run_id, [escalate("to L2"), RESOLVE], trial)
        winner = one_winner(run.run_id, answers, (ESCALATED, RESOLVED), ([], ["start_runbook"]))
        stored = RunbookExecution.objects.get(pk=run.pk)
        assert (stored.escalation is not None) == (winner == "escalate")
        seen[winner] += 1
    print(f"escalate ∥ resolve over {TRIALS} trials: winners {dict(seen)}")


def test_a_step_races_resolve(fleet):
    charger, sessions = fleet
    seen = Counter()
    step: Move = ("/steps/supply-power", {"action": "choose", "choice": "supply-ok"})
    for trial in range(TRIALS):
        run = fresh_run(charger)
        acted, resolve = race(sessions, run.run_id, [step, RESOLVE], trial)
        # The step cannot end the run (it moves on to the next step), so resolve always
        # wins; the step is refused when the run was resolved first.
        assert won(resolve), resolve.text
        stored, moves, audited = story(run.run_id)
        assert stored.status == "resolved"
        results = StepResult.objects.filter(execution=stored).count()
        if won(acted):
            assert moves == ["next", "resolve"] and stored.current_step == "fault-log"
            assert audited == ["start_runbook", "step_result", "resolve_runbook"]
            assert results == 1
        else:
            assert moves == ["resolve"] and stored.current_step == "supply-power"
            assert audited == ["start_runbook", "resolve_runbook"]
            assert results == 0
        seen["step then resolve" if won(acted) else "resolve, step refused"] += 1
    print(f"step ∥ resolve over {TRIALS} trials: {dict(seen)}")


def test_close_races_resolve(fleet):
    charger, sessions = fleet
    seen = Counter()
    for trial in range(TRIALS):
        run = fresh_run(charger)
        answers = race(sessions, run.run_id, [CLOSE, RESOLVE], trial)
        seen[one_winner(run.run_id, answers, (CLOSED, RESOLVED), ([], ["start_runbook"]))] += 1
    print(f"close ∥ resolve over {TRIALS} trials: winners {dict(seen)}")


def switching_runbooks() -> None:
    """Two runbooks whose one step switches, on an answer, to the same third one."""
    Runbook.objects.create(
        slug="race-target", title="Target", symptom="-",
        steps=[{"key": "look", "title": "Look", "instructions": "-"}],
    )  # fmt: skip
    for slug in ("race-left", "race-right"):
        Runbook.objects.create(
            slug=slug, title=slug, symptom="-",
            steps=[{"key": "ask", "title": "Ask", "instructions": "-", "branches": [
                {"when": {"choice": "go"}, "then": {"action": "switch", "runbook": "race-target"}},
            ]}],
        )  # fmt: skip


def test_a_switch_races_a_switch_to_the_same_runbook(fleet):
    """Two runs on one charger, of two runbooks, both switching to a third: one unfinished
    run of a runbook per charger, so one switch wins and the other is refused."""
    charger, sessions = fleet
    switching_runbooks()
    go: Move = ("/steps/ask", {"action": "choose", "choice": "go"})
    seen = Counter()
    for trial in range(TRIALS):
        left, right = fresh_run(charger, "race-left"), fresh_run(charger, "race-right")
        answers = race(sessions, [left.run_id, right.run_id], [go, go], trial)
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        index = 0 if won(answers[0]) else 1
        winner, loser = (left, right) if index == 0 else (right, left)
        body = answers[index].json()["data"]
        assert body["switched_from"] == winner.run_id and body["runbook"]["slug"] == "race-target"
        targets = RunbookExecution.objects.filter(
            device=charger, runbook_id="race-target", status__in=UNFINISHED
        )
        assert list(targets.values_list("run_id", flat=True)) == [body["run_id"]]
        stored, moves, audited = story(winner.run_id)
        assert (stored.status, moves, audited) == (
            "closed",
            ["switch"],
            ["start_runbook", "step_result"],
        )
        stored, moves, audited = story(loser.run_id)
        assert (stored.status, moves, audited) == ("open", [], ["start_runbook"])
        assert StepResult.objects.filter(execution=stored).count() == 0
        seen["left" if index == 0 else "right"] += 1
        # Ready for the next trial: nothing unfinished left on the charger.
        RunbookExecution.objects.filter(device=charger).update(status="closed")
    print(f"switch ∥ switch over {TRIALS} trials: winners {dict(seen)}")


def test_a_switch_to_a_runbook_already_under_way_is_refused(fleet):
    """The same rule without a race: a switch does not start a second unfinished run."""
    charger, sessions = fleet
    switching_runbooks()
    under_way = fresh_run(charger, "race-target")
    left = fresh_run(charger, "race-left")
    answer = sessions[0].post(
        f"/v1/operator/runbook-runs/{left.run_id}/steps/ask",
        json={"action": "choose", "choice": "go"},
    )
    assert answer.status_code == 409 and answer.json()["code"] == 4001, answer.text
    assert answer.json()["details"]["run_id"] == under_way.run_id
    stored, moves, audited = story(left.run_id)
    assert (stored.status, moves, audited) == ("open", [], ["start_runbook"])
    assert RunbookExecution.objects.filter(runbook_id="race-target").count() == 1
