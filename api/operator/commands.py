from django.http import HttpRequest
from ninja import Router

from api.auth import operator_read
from api.envelope import success_body
from api.operator.common import QUERY_ERRORS
from api.schemas.common import Envelope, ErrorEnvelope
from api.schemas.operator import CommandStatusOut
from fleet.queries import commands as command_queries
from fleet.services.control import control_summary

router = Router(tags=["Operator — Commands"])


@router.get(
    "/commands/{command_id}",
    auth=operator_read,
    response={200: Envelope[CommandStatusOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    summary="Get a command's status",
)
def command_status(request: HttpRequest, command_id: str):
    """`queued` until the charger reports (delivery is in `delivered_at`); a charger's
    `rejected` shows as `failed` with its reason in `result` (decisions: rejected-is-failed,
    queued-until-answer). A flexibility
    `control_id` is accepted too: its status summarises its chargers' commands (decision:
    control-status)."""
    summary = control_summary(request.auth.operator_id, command_id)
    if summary is not None:  # a flexibility control, read as one command (decision: control-status)
        return success_body(summary)
    command = command_queries.command_for_operator(request.auth.operator_id, command_id)
    return success_body(CommandStatusOut.from_model(command))
