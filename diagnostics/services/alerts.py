"""Alerts: opened or refreshed by detectors, moved by people (open → acknowledged →
resolved | dismissed), every move recorded with who, when and a note."""

import secrets
from datetime import datetime
from typing import Any

from django.db import transaction

from diagnostics.models import Alert, AlertTransition, FaultCode
from fleet.errors import Conflict, NotFound
from fleet.models import Device

SEVERITY_FOR_FAULT = {"error": Alert.Severity.HIGH, "warning": Alert.Severity.MEDIUM}


def severity_for_code(code: str, default: str = Alert.Severity.MEDIUM) -> str:
    fault = FaultCode.objects.filter(code=code).values_list("severity", flat=True).first()
    return SEVERITY_FOR_FAULT.get(fault, default)


@transaction.atomic
def raise_alert(
    *,
    detector: str,
    subject: str,
    operator_id: str,
    title: str,
    severity: str,
    evidence: dict[str, Any],
    seen_at: datetime,
    device: Device | None = None,
    fault_code: str = "",
    suggested_runbook: str = "",
) -> tuple[Alert, bool]:
    """Open an alert, or refresh the one still open for the same detector and subject.
    Returns (alert, created)."""
    active = (
        Alert.objects.select_for_update()
        .filter(
            detector=detector, subject=subject, operator_id=operator_id, status__in=Alert.ACTIVE
        )
        .first()
    )
    if active is not None:
        active.detections += 1
        active.last_seen = max(active.last_seen, seen_at)
        active.evidence = evidence
        active.save(update_fields=["detections", "last_seen", "evidence", "updated_at"])
        return active, False
    alert = Alert.objects.create(
        alert_id="alt_" + secrets.token_hex(8),
        operator_id=operator_id,
        device=device,
        site_id=device.site_id if device else None,
        detector=detector,
        subject=subject,
        fault_code=fault_code,
        severity=severity,
        title=title,
        evidence=evidence,
        suggested_runbook=suggested_runbook,
        first_seen=seen_at,
        last_seen=seen_at,
    )
    return alert, True


def get_alert(operator_id: str, alert_id: str) -> Alert:
    alert = Alert.objects.filter(alert_id=alert_id, operator_id=operator_id).first()
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' not found")
    return alert


@transaction.atomic
def transition(operator_id: str, alert_id: str, status: str, note: str, by: str) -> Alert:
    alert = (
        Alert.objects.select_for_update().filter(alert_id=alert_id, operator_id=operator_id).first()
    )
    if alert is None:
        raise NotFound(f"Alert '{alert_id}' not found")
    if status not in Alert.TRANSITIONS[alert.status]:
        raise Conflict(
            f"An alert cannot go from {alert.status} to {status}",
            {"field": "status", "value": status, "current": alert.status},
        )
    AlertTransition.objects.create(
        alert=alert, from_status=alert.status, to_status=status, note=note, by=by
    )
    alert.status = status
    alert.save(update_fields=["status", "updated_at"])
    return alert
