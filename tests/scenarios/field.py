"""Acting a field case out: a simulated fleet at 100x against a live server, the sweep the
Celery beat would run, a run started from the alert as the console starts it, and the
run walked by its primary action (diagnostics.services.runbooks.next_action) as an
engineer pressing the primary button would, answering from what the case shows."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from diagnostics.models import Alert, RunbookExecution, StepResult
from diagnostics.services.detectors import run_detectors
from diagnostics.services.runbooks import engine
from diagnostics.services.runbooks.engine import is_stale, latest_check
from diagnostics.services.runbooks.next_action import primary_action
from fleet.actors import Actor
from fleet.models import ApiClient, Device, DeviceEvent
from fleet.services import demo, liveness
from fleet.simulator.fleet import FleetOptions
from tests import factories
from tests.fleet.test_simulator import RunningFleet
from tests.live_server import LiveServer, eventually, serving
from tests.scenarios.cases import FieldCase, Outcome

OPERATOR = "Field Cases"
SPEED = 100


@contextmanager
def field_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A live server with the dictionary and runbooks loaded; the reconnect gap scaled
    down with the flapping charger's absences (tests monkeypatch FLAP_OFFLINE_SECONDS to
    3 s). Two seconds, not one: a loaded machine (the suite's four workers) delays a
    healthy charger's heartbeats by more than a second now and then, which read as storms."""
    call_command("load_diagnostics", verbosity=0)
    with serving(tmp_path / "server.log", extra_env={"TELLUS_RECONNECT_GAP_SECONDS": "2"}) as live:
        yield live


def serial_in(tmp_path: Path, scenario: str) -> str:
    state = json.loads((tmp_path / "fleet.json").read_text())
    return next(c["sn"] for c in state["chargers"] if scenario in c["scenarios"])


def faults(code: str) -> int:
    return DeviceEvent.objects.filter(event_type="fault", fault_code=code).count()


@dataclass
class Field:
    client: ApiClient
    tmp_path: Path

    def device(self, scenario: str) -> Device:
        return Device.objects.get(sn=serial_in(self.tmp_path, scenario))


@contextmanager
def field_fleet(
    server: LiveServer, tmp_path: Path, scenarios: list[str], chargers: int, seed: int = 11,
    sites: int = 3,
) -> Iterator[Field]:  # fmt: skip
    """The fleet acting `scenarios` at 100x, its chargers placed round robin on `sites`
    sites of the operator (consecutive chargers at different sites)."""
    options = FleetOptions(
        base_url=server.url,
        chargers=chargers,
        scenarios=scenarios,
        seed=seed,
        speed=SPEED,
        state_file=tmp_path / "fleet.json",
    )
    with RunningFleet(options):
        eventually(lambda: Device.objects.count() == chargers, 60, "the chargers registered")
        client, _ = demo.ensure_operator_client(OPERATOR)
        placed = [{"device_id": d.device_id, "model": d.model} for d in Device.objects.all()]
        demo.place_chargers(placed, demo.ensure_sites(client, sites))
        yield Field(client, tmp_path)


def sweep() -> dict:
    """What the beat runs: the liveness sweep, then the detectors; none may fail."""
    now = timezone.now()
    liveness.mark_offline(now)
    liveness.detect_reconnect_storms(now)
    report = run_detectors(timezone.now())
    assert not any(r["error"] or r["failed"] for r in report.values()), report
    return report


def the_alert(case: FieldCase, device: Device | None = None) -> Alert:
    alerts = Alert.objects.filter(detector=case.detector, fault_code=case.fault_code)
    if device is not None:
        alerts = alerts.filter(device=device)
    found = list(alerts)
    every = list(Alert.objects.values_list("detector", "fault_code"))
    assert len(found) == 1, (case.key, found, every)
    return found[0]


def engineer() -> tuple[Client, Actor]:
    """A signed-in engineer of the operator, and the actor the console acts as for them."""
    user = factories.console_user("field-engineer", operator=OPERATOR, role="engineer")
    browser = Client()
    browser.force_login(user)
    operator_id = ApiClient.objects.get(operator__name=OPERATOR).operator_id
    return browser, Actor.for_user(user, operator_id)


def start_from_alert(browser: Client, alert: Alert) -> RunbookExecution:
    """Press the alert's "start the suggested runbook" button, as the console offers it."""
    answer = browser.post(reverse("console:alert-run", args=[alert.alert_id]))
    assert answer.status_code == 302, answer
    run_id = answer["Location"].rstrip("/").split("/")[-1]
    return RunbookExecution.objects.get(run_id=run_id)


def walk(
    actor: Actor, run: RunbookExecution, answers: dict[str, str], within: float
) -> tuple[RunbookExecution, list[tuple[str, str, str]]]:
    """Press the run's primary action until it ends or pauses (a pause is where the
    documentation hands the engineer work off the platform): send a step's command
    (confirmed), run its check, follow its route, or answer it from the case's
    `answers`. A check that waits (for a command, for the boot time) is run again once
    the charger moved or the wait is over, within `within` real seconds.
    Returns the run and the trail of (step, action, answer)."""
    trail: list[tuple[str, str, str]] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        run = RunbookExecution.objects.get(pk=run.pk)
        action = primary_action(run)
        if action is None or action["action"] == "resume":
            return run, trail
        step, kind, choice = run.current_step, action["action"], ""
        if kind == "verify":
            _wait_out(latest_check(run, step), run.device_id, deadline)
            run = engine.act_on_step(actor, run, step, "verify")
        elif kind == "command":
            run = engine.act_on_step(actor, run, step, "command", confirm=True)
        elif kind == "choose":
            assert step in answers, f"{step} asks the engineer ({action['why']}); {trail}"
            choice = answers[step]
            run = engine.act_on_step(actor, run, step, "choose", choice=choice)
        else:
            run = engine.act_on_step(actor, run, step, kind)
        if not trail or trail[-1] != (step, kind, choice):
            trail.append((step, kind, choice))
    raise AssertionError(f"the run did not end within {within:.0f} s: {trail}")


def _wait_out(last: StepResult | None, device_id: str, deadline: float) -> None:
    """Before a check is run again: wait for what it waits for — the boot time it names,
    or (a command under way) the charger's next report — never past the deadline."""
    if last is None or last.outcome != StepResult.Outcome.WAITING:
        return
    if is_stale(last, device_id):
        return
    until = _moment((last.evidence or {}).get("judged_from"))
    pause = (until - timezone.now()).total_seconds() + 0.2 if until else 0.3
    time.sleep(max(0.0, min(pause, deadline - time.monotonic())))


def _moment(value: object) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


def deciding_result(run: RunbookExecution) -> StepResult | None:
    """The latest check result of the step the run ended at."""
    return (
        run.results.filter(step_key=run.current_step)
        .exclude(outcome=StepResult.Outcome.MANUAL)
        .order_by("-at", "-id")
        .first()
    )


def assert_outcome(run: RunbookExecution, expected: Outcome) -> None:
    """The run reached the documented outcome, with its evidence."""
    seen = (run.status, run.current_step, run.outcome_note)
    assert (run.status, run.current_step) == (expected.status, expected.step), seen
    assert expected.note in run.outcome_note, seen
    if expected.target:
        assert (run.escalation or {}).get("target") == expected.target, run.escalation
    if expected.evidence:
        result = deciding_result(run)
        assert result is not None, seen
        found = {key: (result.evidence or {}).get(key) for key in expected.evidence}
        assert found == expected.evidence, result.evidence
    if expected.action:
        found = {key: (run.outcome_action or {}).get(key) for key in expected.action}
        assert found == expected.action, run.outcome_action
