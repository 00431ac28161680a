"""Alerts: opened or refreshed by detectors from the facts they find, moved by people
(open → acknowledged → resolved | dismissed), every move recorded and audited.

A detector names the rows that are the facts about a subject (fault events, telemetry
samples, devices, a command). An alert counts distinct facts, never sweeps. Closing an
alert covers every fact received until the close; the subject gets a new alert (which
points to the closed one) only when facts received after the close meet the detector's
rule again, and not while a dismissal's snooze lasts. Closed alerts stay closed.
"""

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max, Min, QuerySet
from django.utils import timezone

from diagnostics.contracts.alerts import MAX_SNOOZE_MINUTES
from diagnostics.models import Alert, AlertTransition, FaultCode
from diagnostics.services.runbooks.suggestions import suggest_for_alert
from fleet.actors import Actor
from fleet.errors import Conflict, InvalidParameter, NotFound
from fleet.live.messages import alert_changed
from fleet.live.publish import publish_operator_message_sync
from fleet.models import Device
from fleet.services import audit

SEVERITY_FOR_FAULT = {"error": Alert.Severity.HIGH, "warning": Alert.Severity.MEDIUM}
AUDIT_ACTIONS = {
    Alert.Status.ACKNOWLEDGED: "acknowledge_alert",
    Alert.Status.RESOLVED: "resolve_alert",
    Alert.Status.DISMISSED: "dismiss_alert",
}
TITLE_MAX = Alert._meta.get_field("title").max_length

OPENED, REFRESHED, UNCHANGED = "opened", "refreshed", "unchanged"
SNOOZED, BELOW_THRESHOLD = "snoozed", "below_threshold"


def severity_for_code(code: str, default: str = Alert.Severity.MEDIUM) -> str:
    fault = FaultCode.objects.filter(code=code).values_list("severity", flat=True).first()
    return SEVERITY_FOR_FAULT.get(fault, default)


# --- Texts for bounded columns ----------------------------------------------------------------


def number(value: float) -> str:
    """A reading as short text whatever its size: 80.0, 1.23e+05, 1e+200, nan."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.1f}" if abs(value) < 1e5 else f"{value:.3g}"


def bounded(text: str, max_length: int) -> str:
    """Cut to a column's length, marking the cut."""
    return text if len(text) <= max_length else text[: max_length - 1] + "…"


# jsonb gives 1e200 back as a 201-digit integer, which many JSON consumers refuse.
JSON_NUMBER_MAX = 1e15


def json_safe(value: Any) -> Any:
    """Evidence as JSON PostgreSQL accepts and gives back readable: numbers that are not
    finite or beyond ±JSON_NUMBER_MAX become short text (1e+200, nan)."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > JSON_NUMBER_MAX:
            return number(float(value))
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


# --- Detections and their facts ---------------------------------------------------------------


@dataclass(frozen=True)
class FactSummary:
    count: int
    first: datetime | None
    last: datetime | None


@dataclass(frozen=True)
class Detection:
    """A subject a detector found, with the rows that are its facts and how to describe
    them. `describe` gets the facts the alert covers and their summary and returns the
    title and the evidence."""

    detector: str
    subject: str
    operator_id: str
    facts: QuerySet  # every fact about the subject, of any age
    window: timedelta  # facts timed within it, back from now, can open an alert
    describe: Callable[[QuerySet, FactSummary], tuple[str, dict[str, Any]]]
    threshold: int = 1  # distinct facts needed to open an alert
    # Beyond the threshold, whether the facts meet the detector's rule (a cluster's sites);
    # None: the threshold is the whole rule.
    qualifies: Callable[[QuerySet], bool] | None = None
    fact_key: str = "pk"  # facts are distinct by this field (e.g. device_id for a cluster)
    time_field: str = "timestamp"  # when the fact happened
    received_field: str = "received_at"  # when the platform learnt of it
    device: Device | None = None
    fault_code: str = ""
    severity: str = ""  # empty: from the fault dictionary entry of fault_code

    def covered(self, since: datetime, received_after: datetime | None) -> QuerySet:
        facts = self.facts.filter(**{f"{self.time_field}__gte": since})
        if received_after is not None:
            facts = facts.filter(**{f"{self.received_field}__gt": received_after})
        return facts

    def summarise(self, facts: QuerySet) -> FactSummary:
        row = facts.order_by().aggregate(
            count=Count(self.fact_key, distinct=True),
            first=Min(self.time_field),
            last=Max(self.time_field),
        )
        return FactSummary(row["count"], row["first"], row["last"])


@transaction.atomic
def record_detection(detection: Detection, now: datetime) -> tuple[Alert | None, str]:
    """Bring the subject's open alert up to date with the facts it covers, or open one
    from facts no closed alert covered. Returns the alert (None when none opens) and
    what happened: opened, refreshed, unchanged, snoozed or below_threshold."""
    same = Alert.objects.filter(
        detector=detection.detector, subject=detection.subject, operator_id=detection.operator_id
    )
    active = same.select_for_update().filter(status__in=Alert.ACTIVE).first()
    if active is not None:
        return active, _refresh(active, detection)
    previous = (
        same.filter(status__in=Alert.CLOSED).order_by(F("closed_at").desc(nulls_last=True)).first()
    )
    if previous is not None and previous.snoozed_until and previous.snoozed_until > now:
        return None, SNOOZED
    received_after = previous.closed_at if previous is not None else None
    window_start = now - detection.window
    fresh = detection.covered(window_start, received_after)
    summary = detection.summarise(fresh)
    if summary.count < detection.threshold or (
        detection.qualifies is not None and not detection.qualifies(fresh)
    ):
        return None, BELOW_THRESHOLD
    title, evidence = detection.describe(fresh, summary)
    device = detection.device
    alert = Alert.objects.create(
        alert_id="alt_" + secrets.token_hex(8),
        operator_id=detection.operator_id,
        device=device,
        site_id=device.site_id if device else None,
        detector=detection.detector,
        subject=detection.subject,
        fault_code=detection.fault_code,
        severity=detection.severity or severity_for_code(detection.fault_code),
        title=bounded(title, TITLE_MAX),
        evidence=json_safe(evidence),
        suggested_runbook=suggest_for_alert(device, detection.detector, detection.fault_code),
        fact_count=summary.count,
        first_seen=summary.first,
        last_seen=summary.last,
        window_start=window_start,
        facts_received_after=received_after,
        previous=previous,
    )
    _announce(alert)
    return alert, OPENED


def _announce(alert: Alert) -> None:
    """Once the change is committed, the operator's open console pages hear of it."""
    message = alert_changed(alert.alert_id, alert.status, alert.severity)
    transaction.on_commit(lambda: publish_operator_message_sync(alert.operator_id, message))


def _refresh(alert: Alert, detection: Detection) -> str:
    covered = detection.covered(alert.window_start, alert.facts_received_after)
    summary = detection.summarise(covered)
    # Never count down: facts purged by retention were still covered.
    if summary.count <= alert.fact_count and (summary.last or alert.last_seen) <= alert.last_seen:
        return UNCHANGED
    title, evidence = detection.describe(covered, summary)
    alert.fact_count = max(alert.fact_count, summary.count)
    alert.first_seen = min(alert.first_seen, summary.first or alert.first_seen)
    alert.last_seen = max(alert.last_seen, summary.last or alert.last_seen)
    alert.title = bounded(title, TITLE_MAX)
    alert.evidence = json_safe(evidence)
    alert.save(
        update_fields=["fact_count", "first_seen", "last_seen", "title", "evidence", "updated_at"]
    )
    return REFRESHED


# --- People moving alerts ---------------------------------------------------------------------


def get_alert(operator_id: str, alert_id: str) -> Alert:
    alert = Alert.objects.filter(alert_id=alert_id, operator_id=operator_id).first()
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' not found")
    return alert


def _check_snooze(status: str, snooze_minutes: Any) -> None:
    if snooze_minutes is None:
        return
    if status != Alert.Status.DISMISSED:
        raise InvalidParameter(
            "snooze_minutes", snooze_minutes, "Only a dismissal can snooze an alert"
        )
    if type(snooze_minutes) is not int or not 1 <= snooze_minutes <= MAX_SNOOZE_MINUTES:
        raise InvalidParameter(
            "snooze_minutes",
            snooze_minutes,
            f"snooze_minutes must be a whole number from 1 to {MAX_SNOOZE_MINUTES}",
        )


@transaction.atomic
def transition(
    actor: Actor,
    alert_id: str,
    status: str,
    note: str,
    *,
    snooze_minutes: int | None = None,
    now: datetime | None = None,
) -> Alert:
    """Move one of the actor's operator's alerts along its lifecycle, record the move and
    audit it. Resolving or dismissing closes it; a dismissal may also snooze the subject
    for snooze_minutes."""
    _check_snooze(status, snooze_minutes)
    alert = (
        Alert.objects.select_for_update()
        .filter(alert_id=alert_id, operator_id=actor.operator_id)
        .first()
    )
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' not found")
    if status not in Alert.TRANSITIONS[alert.status]:
        raise Conflict(
            f"An alert cannot go from {alert.status} to {status}",
            {"field": "status", "value": status, "current": alert.status},
        )
    now = now or timezone.now()
    before = alert.status
    AlertTransition.objects.create(
        alert=alert, from_status=before, to_status=status, note=note, by=actor.label
    )
    alert.status = status
    fields = ["status", "updated_at"]
    if status in Alert.CLOSED:
        alert.closed_at = now
        fields.append("closed_at")
    if snooze_minutes is not None:
        alert.snoozed_until = now + timedelta(minutes=snooze_minutes)
        fields.append("snoozed_until")
    alert.save(update_fields=fields)
    after: dict[str, Any] = {"status": status}
    if snooze_minutes is not None:
        after["snoozed_until"] = alert.snoozed_until.isoformat()
    audit.record(
        actor,
        action=AUDIT_ACTIONS[status],
        resource_type="alert",
        resource_id=alert.alert_id,
        operator_id=alert.operator_id,
        details={"note": note},
        before={"status": before},
        after=after,
    )
    _announce(alert)
    return alert


# --- Chargers leaving an operator -------------------------------------------------------------

LEFT_THE_FLEET = "Closed by the platform: the charger moved to another operator's fleet."


def close_alerts_of_departed_chargers(
    sender,
    *,
    device_ids: list[str],
    operator_before: str | None,
    operator_after: str | None,
    actor: Actor,
    **kwargs: Any,
) -> None:
    """`device_owner_changed` receiver, inside the moving transaction: the previous
    operator's active alerts on the chargers that left it are resolved, each move recorded
    and audited in that operator's trail. It can no longer act on them (no commands, no
    runbook), its detectors no longer watch the chargers, and left open they would sit in
    its inbox for ever; the facts behind them stay in its history."""
    if not operator_before or operator_before == operator_after or not device_ids:
        return
    alerts = list(
        Alert.objects.select_for_update()
        .filter(operator_id=operator_before, device_id__in=device_ids, status__in=Alert.ACTIVE)
        .order_by("alert_id")
    )
    # Closed by the platform, as the runs are; who moved the charger is in both
    # operators' trails already (the move's own entry) and in the details here.
    details = {"reason": "charger_moved", "moved_by": actor.label}
    now = timezone.now()
    for alert in alerts:
        _resolve_by_platform(alert, LEFT_THE_FLEET, details, now)


def resolve_by_platform(alerts: QuerySet, note: str, reason: str) -> int:
    """Resolve these active alerts for the platform (a rule that no longer holds them),
    each move recorded with `note` and audited in its operator's trail with `reason`.
    Returns how many were resolved."""
    rows = list(alerts.select_for_update().filter(status__in=Alert.ACTIVE).order_by("alert_id"))
    now = timezone.now()
    for alert in rows:
        _resolve_by_platform(alert, note, {"reason": reason}, now)
    return len(rows)


def _resolve_by_platform(alert: Alert, note: str, details: dict[str, Any], now: datetime) -> None:
    platform = Actor.platform(alert.operator_id)
    before = alert.status
    AlertTransition.objects.create(
        alert=alert,
        from_status=before,
        to_status=Alert.Status.RESOLVED,
        note=note,
        by=platform.label,
    )
    alert.status = Alert.Status.RESOLVED
    alert.closed_at = now
    alert.save(update_fields=["status", "closed_at", "updated_at"])
    audit.record(
        platform,
        action=AUDIT_ACTIONS[Alert.Status.RESOLVED],
        resource_type="alert",
        resource_id=alert.alert_id,
        operator_id=alert.operator_id,
        details={"note": note, **details},
        before={"status": before},
        after={"status": Alert.Status.RESOLVED},
    )
    _announce(alert)
