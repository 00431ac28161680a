"""Shared behaviour of the provisioning commands: one JSON object on stdout, or an
error on stderr with a non-zero exit."""

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError
from django.db import models, transaction

from fleet.actors import Actor
from fleet.errors import TellusError
from fleet.services import audit


def run_provisioning(command, action: Callable[[], dict[str, Any]]) -> None:
    try:
        # The change and its audit entry commit together or not at all.
        with transaction.atomic():
            result = action()
    except TellusError as exc:
        raise CommandError(exc.message) from exc
    command.stdout.write(json.dumps(result))


def audit_cli_change(
    command: str, obj: models.Model, before: dict[str, Any] | None, operator_before=None
) -> None:
    """Record what a provisioning command changed, by `cli:<os user>`, in the trail of
    the operator(s) the record belonged to and belongs to now."""
    audit.record_change(
        actor=Actor.cli(),
        action="create" if before is None else "update",
        subject=audit.subject_of(obj),
        before=before,
        after=audit.snapshot(obj),
        operator_ids=[operator_before, audit.operator_id_of(obj)],
        details={"via": f"manage.py {command}"},
    )
