"""Loading the diagnostics content (data files in diagnostics/data) into the database.

Idempotent: an entry is created when missing, updated when the file changed and the
row still holds what the previous load wrote, and left alone when an admin edited it
(the edit wins and is reported). Entries that are not in the file are never touched.
"""

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction

from diagnostics.checks import CHECKS
from diagnostics.models import FaultCode, Runbook
from diagnostics.services.detectors import ALERT_DETECTORS
from diagnostics.services.runbooks.suggestions import POWER_UP_SIGNS
from fleet.models import ConnectorState, Device

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SEVERITIES = {choice for choice, _ in FaultCode.Severity.choices}
SOURCES = {choice for choice, _ in FaultCode.Source.choices}


class DiagnosticsDataError(ValueError):
    pass


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_edits: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "kept_edits": self.kept_edits,
        }


def digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _strings(where: str, name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DiagnosticsDataError(f"{where}: {name} must be a list of strings")
    return list(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _diagnostic_steps(code: str, steps: Any) -> list[dict[str, Any]]:
    if steps is None:
        return []
    if not isinstance(steps, list):
        raise DiagnosticsDataError(f"{code}: diagnostic_steps must be a list")
    for number, step in enumerate(steps, 1):
        if not isinstance(step, dict) or not isinstance(step.get("text"), str):
            raise DiagnosticsDataError(
                f"{code}: diagnostic step {number} must be a mapping with a text"
            )
        if not step["text"].strip():
            raise DiagnosticsDataError(f"{code}: every diagnostic step needs a text")
        for flag in ("on_site", "proposed"):
            if flag in step and not isinstance(step[flag], bool):
                raise DiagnosticsDataError(
                    f"{code}: diagnostic step {number}: {flag} must be true or false"
                )
    return list(steps)


def _thresholds(code: str, thresholds: Any) -> dict[str, Any]:
    if thresholds is None:
        return {}
    if not isinstance(thresholds, dict):
        raise DiagnosticsDataError(f"{code}: thresholds must be a mapping of name to number")
    for name, value in thresholds.items():
        if not isinstance(name, str) or not _is_number(value):
            raise DiagnosticsDataError(
                f"{code}: threshold {name!r} must be a finite number, not {value!r:.40}"
            )
    return dict(thresholds)


# A firmware statement is a sentence or two for the entry page and the API, not a document.
FIRMWARE_STATEMENT_MAX = 500


def _firmware_statement(code: str, statement: Any) -> str:
    """The entry's scoped firmware statement, whitespace collapsed (the admin's text box
    sends line breaks); empty when there is none."""
    if statement is None:
        return ""
    if not isinstance(statement, str):
        raise DiagnosticsDataError(f"{code}: firmware_statement must be text")
    text = " ".join(statement.split())
    if not text.isprintable():
        raise DiagnosticsDataError(f"{code}: firmware_statement has control characters")
    if len(text) > FIRMWARE_STATEMENT_MAX:
        raise DiagnosticsDataError(
            f"{code}: firmware_statement is longer than {FIRMWARE_STATEMENT_MAX} characters"
        )
    return text


def fault_content(entry: dict[str, Any]) -> dict[str, Any]:
    """Validate one fault-dictionary entry (from the file or the admin) and return the
    content fields as stored; DiagnosticsDataError names what is wrong."""
    code = entry.get("code")
    if not isinstance(code, str) or not code:
        raise DiagnosticsDataError(f"fault entry without a code: {entry!r:.80}")
    if entry.get("severity") not in SEVERITIES:
        raise DiagnosticsDataError(f"{code}: severity must be one of {sorted(SEVERITIES)}")
    if entry.get("source", "charger") not in SOURCES:
        raise DiagnosticsDataError(f"{code}: source must be one of {sorted(SOURCES)}")
    for required in ("title", "category", "description"):
        if not isinstance(entry.get(required), str) or not entry[required].strip():
            raise DiagnosticsDataError(f"{code}: {required} is required")
    issues = entry.get("known_firmware_issues") or []
    if not isinstance(issues, list):
        raise DiagnosticsDataError(f"{code}: known_firmware_issues must be a list")
    for issue in issues:
        if not isinstance(issue, dict) or not issue.get("fixed_in"):
            raise DiagnosticsDataError(f"{code}: every known firmware issue needs fixed_in")
    return {
        "title": entry["title"],
        "severity": entry["severity"],
        "category": entry["category"],
        "source": entry.get("source", "charger"),
        "description": entry["description"].strip(),
        "symptoms": _strings(code, "symptoms", entry.get("symptoms")),
        "likely_causes": _strings(code, "likely_causes", entry.get("likely_causes")),
        "diagnostic_steps": _diagnostic_steps(code, entry.get("diagnostic_steps")),
        "related_telemetry": _strings(code, "related_telemetry", entry.get("related_telemetry")),
        "related_commands": _strings(code, "related_commands", entry.get("related_commands")),
        "known_firmware_issues": list(issues),
        "firmware_statement": _firmware_statement(code, entry.get("firmware_statement")),
        "thresholds": _thresholds(code, entry.get("thresholds")),
    }


@transaction.atomic
def load_faults(path: Path = DATA_DIR / "faults.yaml") -> LoadReport:
    entries = yaml.safe_load(path.read_text()) or []
    if not isinstance(entries, list):
        raise DiagnosticsDataError(f"{path.name} must hold a list of fault entries")
    report = LoadReport()
    seen = set()
    for entry in entries:
        content = fault_content(entry)
        code = entry["code"]
        if code in seen:
            raise DiagnosticsDataError(f"{code} appears twice in {path.name}")
        seen.add(code)
        _upsert(FaultCode, "code", code, content, report)
    return report


def _upsert(model, key_field: str, key: str, content: dict[str, Any], report: LoadReport) -> None:
    """Create, update (only if the row still holds the last load), or keep an admin edit."""
    file_digest = digest(content)
    row = model.objects.select_for_update().filter(**{key_field: key}).first()
    if row is None:
        model.objects.create(**{key_field: key}, loaded_digest=file_digest, **content)
        report.created.append(key)
    elif row.loaded_digest == file_digest:
        report.unchanged.append(key)
    elif digest(row.content()) == row.loaded_digest:
        for name, value in content.items():
            setattr(row, name, value)
        row.loaded_digest = file_digest
        row.save()
        report.updated.append(key)
    else:
        report.kept_edits.append(key)


ACTIONS = {"next", "goto", "switch", "pause", "resolve", "diagnose", "close", "escalate"}
# What a diagnosed run can leave to do (engine.diagnose_action).
FIXES = {"firmware_upgrade"}
ON_SITE = {"no", "yes", "optional"}
MAX_RULE_SCORE = 10
COMMAND_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def ranking_conditions() -> dict[str, set[str] | None]:
    """What a suggest_when rule may test, and the values each accepts (None: any
    command name, since commands have no closed list)."""

    return {
        "device_status": set(Device.Status.values),
        "connector_state": set(ConnectorState.values),
        "recent_command": None,
        "open_alert": set(ALERT_DETECTORS),
        "power_up": set(POWER_UP_SIGNS),
    }


def _suggest_when(slug: str, rules: Any) -> list[dict[str, Any]]:
    """Validate a runbook's ranking rules: each names exactly one condition with a
    non-empty list of known values, and a score from 1 to MAX_RULE_SCORE."""
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise DiagnosticsDataError(f"{slug}: suggest_when must be a list of rules")
    conditions = ranking_conditions()
    valid = []
    for rule in rules:
        if not isinstance(rule, dict):
            raise DiagnosticsDataError(f"{slug}: a suggest_when rule must be a mapping")
        named = [key for key in rule if key != "score"]
        if len(named) != 1 or named[0] not in conditions:
            raise DiagnosticsDataError(
                f"{slug}: a suggest_when rule names exactly one of {sorted(conditions)} "
                f"and a score, not {sorted(map(str, rule))}"
            )
        condition, values = named[0], rule[named[0]]
        if not isinstance(values, list) or not values:
            raise DiagnosticsDataError(f"{slug}: suggest_when {condition} needs a list of values")
        allowed = conditions[condition]
        for value in values:
            if not isinstance(value, str) or not (
                value in allowed if allowed is not None else COMMAND_NAME.match(value)
            ):
                raise DiagnosticsDataError(
                    f"{slug}: suggest_when {condition} has unknown value {value!r}"
                    + (f" (one of {sorted(allowed)})" if allowed is not None else "")
                )
        score = rule.get("score")
        if type(score) is not int or not 1 <= score <= MAX_RULE_SCORE:
            raise DiagnosticsDataError(
                f"{slug}: suggest_when score must be an integer from 1 to {MAX_RULE_SCORE}"
            )
        valid.append({condition: list(values), "score": score})
    return valid


def runbook_content(entry: dict[str, Any], slugs: set[str]) -> dict[str, Any]:
    """Validate one runbook (from the file or the admin) against the checks, actions and
    runbooks that exist, and return the content fields as stored."""
    slug = entry.get("slug")
    steps = entry.get("steps")
    if not slug or not entry.get("title") or not steps:
        raise DiagnosticsDataError(f"runbook {slug!r}: slug, title and steps are required")
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise DiagnosticsDataError(f"{slug}: steps must be a list of step mappings")
    keys = [step.get("key") for step in steps]
    if not all(isinstance(key, str) and key for key in keys) or len(set(keys)) != len(keys):
        raise DiagnosticsDataError(f"{slug}: every step needs a unique key")
    for step in steps:
        where = f"{slug}/{step['key']}"
        if not isinstance(step.get("title"), str) or not step["title"].strip():
            raise DiagnosticsDataError(f"{where}: every step needs a title")
        if str(step.get("on_site", "no")) not in ON_SITE:
            raise DiagnosticsDataError(f"{where}: on_site must be one of {sorted(ON_SITE)}")
        check = step.get("check")
        if check is not None:
            if not isinstance(check, dict) or not isinstance(check.get("params", {}), dict):
                raise DiagnosticsDataError(f"{where}: check must be a mapping (name, params)")
            if check.get("name") not in CHECKS:
                raise DiagnosticsDataError(f"{where}: unknown check {check.get('name')!r}")
        branches = step.get("branches") or []
        if not isinstance(branches, list):
            raise DiagnosticsDataError(f"{where}: branches must be a list")
        for branch in branches:
            if not isinstance(branch, dict) or not isinstance(branch.get("then") or {}, dict):
                raise DiagnosticsDataError(
                    f"{where}: each branch must be a mapping with when and then"
                )
            if not isinstance(branch.get("when") or {}, dict):
                raise DiagnosticsDataError(f"{where}: a branch's when must be a mapping")
            then = branch.get("then") or {}
            if then.get("action") not in ACTIONS:
                raise DiagnosticsDataError(f"{where}: unknown action {then.get('action')!r}")
            if then["action"] == "diagnose" and then.get("fix") not in FIXES:
                raise DiagnosticsDataError(f"{where}: diagnose needs a fix, one of {sorted(FIXES)}")
            if then["action"] == "goto" and then.get("step") not in keys:
                raise DiagnosticsDataError(f"{where}: goto to unknown step {then.get('step')!r}")
            if then["action"] == "switch" and then.get("runbook") not in slugs:
                raise DiagnosticsDataError(
                    f"{where}: switch to unknown runbook {then.get('runbook')!r}"
                )
    return {
        "title": entry["title"],
        "applicable_models": _strings(slug, "applicable_models", entry.get("applicable_models")),
        "symptom": (entry.get("symptom") or "").strip(),
        "linked_fault_codes": _strings(slug, "linked_fault_codes", entry.get("linked_fault_codes")),
        "triggers": _strings(slug, "triggers", entry.get("triggers")),
        "escalation_target": entry.get("escalation_target") or "L2",
        "escalation_checklist": _strings(
            slug, "escalation_checklist", entry.get("escalation_checklist")
        ),
        "steps": steps,
        "suggest_when": _suggest_when(slug, entry.get("suggest_when")),
        "follows_command": _followed_command(slug, entry.get("follows_command")),
    }


def _followed_command(slug: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not COMMAND_NAME.match(value):
        raise DiagnosticsDataError(f"{slug}: follows_command must be a command type")
    return value


@transaction.atomic
def load_runbooks(path: Path = DATA_DIR / "runbooks.yaml") -> LoadReport:

    entries = yaml.safe_load(path.read_text()) or []
    if not isinstance(entries, list):
        raise DiagnosticsDataError(f"{path.name} must hold a list of runbooks")
    slugs = {entry.get("slug") for entry in entries} | set(
        Runbook.objects.values_list("slug", flat=True)
    )
    report = LoadReport()
    for entry in entries:
        content = runbook_content(entry, slugs)
        _upsert(Runbook, "slug", entry["slug"], content, report)
    return report
