"""A runbook's data in words for people: what each branch waits for and what it does, and
a check's evidence laid out as text, lists and small tables (templates only loop)."""

from dataclasses import dataclass
from typing import Any

from diagnostics.services.runbooks import step_choices, step_command_info

ON_SITE = {
    "yes": "On site only: someone must be at the charger",
    "optional": "Remote first; on site if the check cannot decide",
    "no": "Remote: no one needs to be at the charger",
}

ACTIONS = {
    "next": "go on to the next step",
    "pause": "pause the run",
    "resolve": "resolve the run",
    "close": "close the run",
    "escalate": "escalate",
}


def describe_when(when: dict[str, Any]) -> str:
    """The condition of a branch: a check outcome, evidence values, a choice or default."""
    if "choice" in when:
        return f"you choose “{when.get('label') or when['choice']}”"
    if when.get("default"):
        return "otherwise"
    parts = []
    if "outcome" in when:
        parts.append(f"the check says {when['outcome']}")
    for key, value in (when.get("evidence") or {}).items():
        parts.append(f"its {key.replace('_', ' ')} is {value}")
    return " and ".join(parts) or "always"


def describe_then(then: dict[str, Any]) -> str:
    """What a branch does, with its note when it has one."""
    action = then.get("action", "next")
    if action == "goto":
        text = f"go to step “{then.get('step')}”"
    elif action == "switch":
        text = f"switch to the runbook “{then.get('runbook')}”"
    elif action == "escalate" and then.get("target"):
        text = f"escalate to {then['target']}"
    else:
        text = ACTIONS.get(action, action)
    note = then.get("note")
    return f"{text}: {note}" if note else text


def procedure(runbook_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step with its on-site note, check, command and branches in words."""
    return [
        {
            **step,
            "on_site_text": ON_SITE.get(step.get("on_site", "no"), step.get("on_site", "")),
            "check_name": (step.get("check") or {}).get("name"),
            "command_info": step_command_info(step),
            "routes": [
                {"when": describe_when(b["when"]), "then": describe_then(b["then"])}
                for b in step.get("branches", [])
            ],
            "choices": step_choices(step),
        }
        for step in runbook_steps
    ]


@dataclass(frozen=True)
class EvidenceItem:
    label: str
    kind: str  # "text", "list" or "table"
    text: str = ""
    items: tuple = ()
    columns: tuple = ()
    rows: tuple = ()


MAX_ROWS = 25


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_scalar(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_scalar(v) for v in value)
    return str(value)


def evidence_items(evidence: dict[str, Any] | None) -> list[EvidenceItem]:
    """What a check looked at, readable: scalars as text, lists of values as lists, lists
    of records as tables (the first 25 rows; the JSON download has them all)."""
    items = []
    for key, value in (evidence or {}).items():
        if key in ("summary", "check"):
            continue
        label = key.replace("_", " ")
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = tuple(dict.fromkeys(k for row in value for k in row))
            rows = tuple(
                tuple(_scalar(row.get(column)) for column in columns) for row in value[:MAX_ROWS]
            )
            more = f"{len(value)} in all" if len(value) > MAX_ROWS else ""
            headings = tuple(c.replace("_", " ") for c in columns)
            items.append(EvidenceItem(label, "table", text=more, columns=headings, rows=rows))
        elif isinstance(value, list):
            items.append(EvidenceItem(label, "list", items=tuple(_scalar(v) for v in value)))
        else:
            items.append(EvidenceItem(label, "text", text=_scalar(value)))
    return items
