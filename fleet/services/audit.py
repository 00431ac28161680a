"""The audit trail: one call, used wherever something worth answering "who changed
what before it started faulting?" happens.

An entry names the actor, the operator whose trail shows it, the subject (resource type
and id), the fields before → after and the address. Secrets never reach the trail: any
key that names one is written as "[redacted]", so a rotation shows that the secret
changed, never what it is.
"""

import enum
import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from fleet.actors import Actor
from fleet.models import AuditEntry, Operator

REDACTED = "[redacted]"
_SECRET_WORDS = ("secret", "password", "token")
_SECRET_SUFFIXES = ("_hash", "_sealed")
# Facts about a secret rather than the secret: useful evidence, safe to show.
_SECRET_METADATA = ("_version", "_rotated_at", "_expires_at")

# Names the trail already uses for a subject; anything else is its model name.
_RESOURCE_TYPES = {
    "fleet.apiclient": "client",
    "fleet.legacypush": "legacy_push",
    "fleet.legacyorder": "legacy_order",
    "fleet.firmwareupdate": "firmware_update",
    "fleet.telemetrysample": "telemetry_sample",
    "fleet.deviceevent": "device_event",
    "fleet.chargingrecord": "charging_record",
    "fleet.commandstatuschange": "command_status",
    "diagnostics.faultcode": "fault_code",
    "diagnostics.runbookexecution": "runbook_run",
    "diagnostics.stepresult": "step_result",
    "auth.user": "user",
    "auth.group": "group",
    "console.operatormember": "console_member",
}
# Links from a record towards the operator that owns it, tried in this order.
_OWNER_LINKS = ("operator", "client", "site", "device", "execution", "command", "push", "alert")


class _Default(enum.Enum):
    ACTORS_OPERATOR = enum.auto()


# `operator_id` left out: the actor's operator. An explicit None stays platform-wide.
ACTORS_OPERATOR = _Default.ACTORS_OPERATOR


def record(
    actor: Actor,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    operator_id: str | _Default | None = ACTORS_OPERATOR,
    details: dict[str, Any] | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one entry by `actor` from its address, in the trail of `operator_id` (by
    default the actor's). `before`/`after` are the changed fields; secrets are redacted."""
    if operator_id is ACTORS_OPERATOR:
        operator_id = actor.operator_id
    return AuditEntry.objects.create(
        operator_id=operator_id,
        actor=actor.label[:150],
        action=action,
        resource_type=resource_type,
        resource_id=resource_id[:80],
        details=redact(details or {}),
        before=redact(before),
        after=redact(after),
        ip=actor.ip,
    )


def is_secret(name: str) -> bool:
    name = name.lower()
    if name.endswith(_SECRET_METADATA):
        return False
    return name.endswith(_SECRET_SUFFIXES) or any(word in name for word in _SECRET_WORDS)


def redact(value: Any) -> Any:
    """The value with every secret-named key, at any depth, replaced by "[redacted]"."""
    if isinstance(value, dict):
        return {k: REDACTED if is_secret(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """A record's fields as JSON values (foreign keys and many-to-many as ids). Fields that
    change on every save (`auto_now`) are left out so they never pass for a change."""
    values: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if getattr(field, "auto_now", False):
            continue
        values[field.name] = field.value_from_object(obj)
    for field in obj._meta.many_to_many:
        values[field.name] = sorted(o.pk for o in field.value_from_object(obj)) if obj.pk else []
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Only the fields that differ. A creation keeps its whole `after`, a deletion its
    whole `before`."""
    if before is None or after is None:
        return before, after
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def resource_type_of(obj: models.Model) -> str:
    return _RESOURCE_TYPES.get(obj._meta.label_lower, obj._meta.model_name)


def subject_of(obj: models.Model) -> tuple[str, str]:
    return resource_type_of(obj), str(obj.pk)


def operator_id_of(obj: models.Model | None) -> str | None:
    """The operator a record belongs to, through its owner links (client, site, device,
    run…); None for platform-wide records such as the fault dictionary."""
    if obj is None:
        return None
    if isinstance(obj, Operator):
        return obj.pk
    for name in _OWNER_LINKS:
        try:
            field = obj._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if not (field.many_to_one or field.one_to_one) or field.auto_created:
            continue
        if name == "operator":
            if operator_id := getattr(obj, field.attname):
                return operator_id
            continue
        if owner_id := operator_id_of(getattr(obj, name)):
            return owner_id
    return None


def record_change(
    actor: Actor,
    *,
    action: str,
    subject: tuple[str, str],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    operator_ids: Iterable[str | None] = (None,),
    details: dict[str, Any] | None = None,
) -> list[AuditEntry]:
    """Record a change of one record as its changed fields, once in the trail of every
    operator it concerns (a device moved between operators shows in both). An update
    that changed nothing records nothing."""
    old, new = changes(before, after)
    if old == {} and new == {}:
        return []
    wanted = list(dict.fromkeys(o for o in operator_ids if o))
    # The operator may be the very record just deleted; its entry then stays platform-wide.
    existing = set(Operator.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    targets = [o for o in wanted if o in existing] or [None]
    return [
        record(
            actor,
            action=action,
            resource_type=subject[0],
            resource_id=subject[1],
            operator_id=operator_id,
            details=details,
            before=old,
            after=new,
        )
        for operator_id in targets
    ]
