"""Shared behaviour of the provisioning commands: one JSON object on stdout, or an
error on stderr with a non-zero exit."""

import json
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from fleet.errors import TellusError


def run_provisioning(command, action: Callable[[], dict[str, Any]]) -> None:
    # Each service commits its change together with its audit entry.
    try:
        result = action()
    except TellusError as exc:
        raise CommandError(exc.message) from exc
    command.stdout.write(json.dumps(result))
