"""Every branch of every shipped runbook, applied by the engine: for each rule, put a run
on its step, make exactly that rule match, and check where the run goes."""

import pytest

from diagnostics.models import Runbook, RunbookExecution, StepResult
from diagnostics.services.loader import DATA_DIR, load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from fleet.actors import Actor

pytestmark = pytest.mark.django_db
ENGINEER = Actor("user", username="field.engineer")


def all_branches():
    import yaml

    for runbook in yaml.safe_load((DATA_DIR / "runbooks.yaml").read_text()):
        for step in runbook["steps"]:
            for index in range(len(step.get("branches") or [])):
                yield pytest.param(
                    runbook["slug"],
                    step["key"],
                    index,
                    id=f"{runbook['slug']}/{step['key']}/{index}",
                )


@pytest.mark.parametrize(("slug", "step_key", "index"), list(all_branches()))
def test_branch(device, slug, step_key, index):
    load_faults()
    load_runbooks()
    runbook = Runbook.objects.get(slug=slug)
    step = runbook.step(step_key)
    branch = step["branches"][index]
    when, then = branch["when"], branch["then"]
    execution = engine.start(ENGINEER, device, slug, connector_id=1)
    execution.current_step = step_key
    execution.save()

    choice = None
    if "choice" in when:
        choice = when["choice"]
    elif "outcome" in when or "evidence" in when:
        outcome = {"pass": "verified", "fail": "failed", "unknown": "unknown"}[
            when.get("outcome", "fail")
        ]
        StepResult.objects.create(
            execution=execution, step_key=step_key, outcome=outcome,
            evidence=dict(when.get("evidence") or {}), by=ENGINEER.label,
        )  # fmt: skip
    else:  # default: make sure no earlier rule matches — nothing recorded, no choice
        earlier = step["branches"][:index]
        assert all(
            "choice" in b["when"] or "outcome" in b["when"] or "evidence" in b["when"]
            for b in earlier
        )

    result = engine.advance(ENGINEER, execution, choice=choice)
    execution.refresh_from_db()
    action = then["action"]
    if action == "goto":
        assert (result.status, result.current_step) == ("open", then["step"])
    elif action == "next":
        following = runbook.next_step_key(step_key)
        if following is None:
            assert result.status == "resolved"
        else:
            assert (result.status, result.current_step) == ("open", following)
    elif action == "switch":
        assert execution.status == "closed"
        assert result.runbook_id == then["runbook"] and result.pk != execution.pk
    elif action == "pause":
        assert result.status == RunbookExecution.Status.PAUSED
    elif action == "resolve":
        assert result.status == RunbookExecution.Status.RESOLVED
    elif action == "diagnose":
        assert result.status == RunbookExecution.Status.DIAGNOSED
        assert result.outcome_action["kind"] == then["fix"]
    elif action == "close":
        assert result.status == RunbookExecution.Status.CLOSED
        assert result.outcome_note.startswith(then.get("reason", "closed"))
    elif action == "escalate":
        assert result.status == RunbookExecution.Status.ESCALATED
        assert result.escalation["target"] == then.get("target", runbook.escalation_target)
        assert set(result.escalation["checklist"]) == set(runbook.escalation_checklist)
    else:  # pragma: no cover - the loader refuses other actions
        pytest.fail(f"unexpected action {action}")
