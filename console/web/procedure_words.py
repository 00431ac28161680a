"""A runbook's data in words for people: what each branch waits for and what it does, and
a check's evidence laid out as text, lists and small tables (templates only loop)."""

from dataclasses import dataclass
from typing import Any

from console.web.times import as_moment, moment_text
from console.web.wording import actor_words
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.services.runbooks.steps import step_choices, step_command_info
from diagnostics.words import value_words

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
        parts.append(f"its {label_of(key)} is {value_words(key, value)}")
    return " and ".join(parts) or "always"


def describe_then(then: dict[str, Any], titles: dict[str, str] | None = None) -> str:
    """What a branch does, with its note when it has one; a step by its title."""
    action = then.get("action", "next")
    if action == "goto":
        step = then.get("step")
        text = f"go to step “{(titles or {}).get(step) or step}”"
    elif action == "switch":
        slug = then.get("runbook")
        text = f"switch to the runbook “{(titles or {}).get(slug) or slug}”"
    elif action == "escalate" and then.get("target"):
        text = f"escalate to {then['target']}"
    else:
        text = ACTIONS.get(action, action)
    note = (then.get("note") or "").rstrip(". ")  # the sentence around it ends it
    return f"{text}: {note}" if note else text


def procedure(runbook_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step with its on-site note, check, command and branches in words."""
    titles = {step.get("key"): step.get("title") for step in runbook_steps}
    switches = any(
        b.get("then", {}).get("action") == "switch"
        for step in runbook_steps
        for b in step.get("branches", [])
    )
    if switches:  # other runbooks by their titles
        titles = dict(runbook_queries.runbooks().values_list("slug", "title")) | titles
    return [
        {
            **step,
            "on_site_text": ON_SITE.get(step.get("on_site", "no"), step.get("on_site", "")),
            "check_name": (step.get("check") or {}).get("name"),
            "command_info": step_command_info(step),
            "routes": [
                {"when": describe_when(b["when"]), "then": describe_then(b["then"], titles)}
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

# The unit of each evidence value a check or an escalation records, by its key.
UNITS = {
    "voltage": "V",
    "envelope": "V",
    "phases": "V",
    "current": "A",
    "power": "kW",
    "max_power": "kW",
    "energy": "kWh",
    "temperature": "°C",
    "limit_c": "°C",
    "soc": "%",
    "floor": "%",
    "imbalance_pct": "%",
    "age_seconds": "s",
}
# Keys whose plain spelling would not say what they hold.
LABELS = {
    "imbalance_pct": "phase imbalance",
    "age_seconds": "heartbeat age",
    "limit_c": "warning limit",
    "auth_ok": "authorisation reached the charger",
    "plug_in": "plugged in",
    "preparing_since": "preparing since",
    "delivered_at": "delivered",
    "event_id": "event",
    "step_key": "step",
    "by": "by",
}


def label_of(key: object) -> str:
    return LABELS.get(str(key)) or str(key).replace("_", " ")


def _number(value: float | int, unit: str) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}" if unit else text


def _scalar(value: Any, key: str = "") -> str:
    """A value as a person reads it: its unit added, a time in the reader's zone, a key
    in words."""
    unit = UNITS.get(key, "")
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number(value, unit)
    if isinstance(value, dict):
        return "; ".join(
            f"{label_of(k)}: {_scalar(v, key if unit else str(k))}" for k, v in value.items()
        )
    if isinstance(value, list):
        if key == "envelope" and len(value) == 2 and all(isinstance(v, int | float) for v in value):
            return f"{_number(value[0], '')} to {_number(value[1], unit)}"
        return ", ".join(_scalar(v, key) for v in value)
    if key in ("by", "started_by") and isinstance(value, str):
        return actor_words(value)
    if isinstance(value, str) and "T" in value and as_moment(value) is not None:
        return moment_text(value)
    return str(value_words(key, value))


def evidence_items(evidence: dict[str, Any] | None) -> list[EvidenceItem]:
    """What a check looked at, readable: scalars as text, lists of values as lists, lists
    of records as tables (the first 25 rows; the JSON download has them all); units on
    every measured value and times in the reader's zone."""
    items = []
    for key, value in (evidence or {}).items():
        if key in ("summary", "check", "verdict"):
            continue
        label = label_of(key)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = tuple(dict.fromkeys(k for row in value for k in row))
            rows = tuple(
                tuple(_scalar(row.get(column), column) for column in columns)
                for row in value[:MAX_ROWS]
            )
            more = f"{len(value)} in all" if len(value) > MAX_ROWS else ""
            headings = tuple(label_of(c) for c in columns)
            items.append(EvidenceItem(label, "table", text=more, columns=headings, rows=rows))
        elif isinstance(value, list) and key != "envelope":
            items.append(EvidenceItem(label, "list", items=tuple(_scalar(v, key) for v in value)))
        else:
            items.append(EvidenceItem(label, "text", text=_scalar(value, key)))
    return items
