"""Commands as their issuing operator sees them."""

from fleet.errors import NotFound
from fleet.models import Command


def command_for_operator(operator_id: str, command_id: str) -> Command:
    """A command the operator issued (its clients or its console users); else 3001."""
    command = Command.objects.filter(command_id=command_id, operator_id=operator_id).first()
    if command is None:
        raise NotFound(f"Command '{command_id}' not found")
    return command
