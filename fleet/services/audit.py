"""The audit trail: one call, used wherever something worth answering "who changed
what before it started faulting?" happens."""

from typing import Any

from fleet.models import AuditEntry


def record(
    *,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: str,
    operator_id: str | None = None,
    details: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        operator_id=operator_id,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details=details or {},
        ip=ip,
    )


def actor_label(client_id: str | None = None, user: str | None = None) -> str:
    if client_id:
        return f"client:{client_id}"
    if user:
        return f"user:{user}"
    return "platform"
