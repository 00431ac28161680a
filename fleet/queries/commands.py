"""Commands as their issuing operator sees them."""

from django.db.models import QuerySet

from fleet.errors import NotFound
from fleet.models import Command
from fleet.queries.filters import narrow


def command_for_operator(operator_id: str, command_id: str) -> Command:
    """A command the operator issued (its clients or its console users); else 3001."""
    command = Command.objects.filter(command_id=command_id, operator_id=operator_id).first()
    if command is None:
        raise NotFound(f"Command '{command_id}' not found")
    return command


def commands(
    operator_id: str,
    *,
    device_id: str | None = None,
    status: str | None = None,
    command: str | None = None,
) -> QuerySet[Command]:
    """The operator's commands, newest first, with who issued them and their history.
    A device id not of this operator matches nothing."""
    queryset = narrow(
        Command.objects.filter(operator_id=operator_id),
        device_id=device_id,
        status=status,
        command=command,
    )
    return (
        queryset.select_related("device", "issued_by_client", "issued_by_user")
        .prefetch_related("history")
        .order_by("-created_at", "-command_id")
    )
