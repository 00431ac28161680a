"""The fault dictionary as an API (proposed extensions; read scope)."""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import BaseModel, Field, StrictStr

from api.auth import operator_read, operator_write
from api.envelope import success_body
from api.operator.common import EXTENSION_TAG, QUERY_ERRORS, PageParams, extension, page_body
from api.schemas.common import Envelope, ErrorEnvelope, Page, ResponseSchema
from diagnostics.queries import faults as fault_queries
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.services.faults import firmware_assessment, get_fault, undocumented_codes
from diagnostics.services.remote_commands import send_diagnostic_command
from diagnostics.services.runbooks.runs import get_runbook
from diagnostics.services.runbooks.suggestions import suggest
from fleet.actors import actor_from_request
from fleet.contracts.common import FilterText, RequestSchema
from fleet.queries.paging import paginate
from fleet.services.tenancy import get_device_for_operator

TAG = "Diagnostics"
router = Router(tags=[TAG, EXTENSION_TAG])


class FaultOut(ResponseSchema):
    code: str
    title: str
    severity: str
    category: str
    source: str
    description: str
    symptoms: list[str]
    likely_causes: list[str]
    diagnostic_steps: list[dict[str, Any]]
    related_telemetry: list[str]
    related_commands: list[str]
    known_firmware_issues: list[dict[str, Any]]
    thresholds: dict[str, Any]
    firmware: list[dict[str, Any]] | None = Field(
        None, description="With ?device_id=: the device's firmware against known issues."
    )


class UndocumentedCode(BaseModel):
    fault_code: str
    count: int
    first_seen: datetime
    last_seen: datetime
    devices: list[str]


class FaultFilters(PageParams):
    severity: FilterText | None = None
    category: FilterText | None = None


@router.get(
    "/faults",
    auth=operator_read,
    response={200: Envelope[Page[FaultOut]], **QUERY_ERRORS},
    exclude_none=True,
    summary="The fault dictionary",
    openapi_extra=extension(),
)
def faults(request: HttpRequest, filters: Query[FaultFilters]):
    page = paginate(
        fault_queries.fault_codes(**filters.filter_values()), filters.page, filters.size
    )
    return page_body(page, [FaultOut.from_model(f) for f in page.items])


@router.get(
    "/faults/undocumented",
    auth=operator_read,
    response={200: Envelope[list[UndocumentedCode]], **QUERY_ERRORS},
    summary="Fault codes reported in your fleet that the dictionary does not know",
    openapi_extra=extension(),
)
def undocumented(request: HttpRequest):
    """Counts, first and last seen, and the devices: what to report to Tellus."""
    return success_body(undocumented_codes(request.auth.operator_id))


@router.get(
    "/faults/{code}",
    auth=operator_read,
    response={200: Envelope[FaultOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    summary="One fault dictionary entry",
    openapi_extra=extension(),
)
def fault_detail(request: HttpRequest, code: str, device_id: FilterText | None = None):
    """With `device_id`, also whether that device's firmware is inside a known issue of
    the code (`affected` is null when the versions cannot be compared) and the fix."""
    fault = get_fault(code)
    if not device_id:
        return success_body(FaultOut.from_model(fault))
    device = get_device_for_operator(request.auth.operator_id, device_id)
    return success_body(FaultOut.from_model(fault, firmware=firmware_assessment(fault, device)))


class RunbookOut(ResponseSchema):
    slug: str
    title: str
    applicable_models: list[str]
    symptom: str
    linked_fault_codes: list[str]
    triggers: list[str]
    escalation_target: str
    escalation_checklist: list[str]
    steps: list[dict[str, Any]]


class RunbookSuggestion(BaseModel):
    slug: str
    title: str
    score: int
    reasons: list[str]


@router.get(
    "/runbooks",
    auth=operator_read,
    response={200: Envelope[list[RunbookOut]], **QUERY_ERRORS},
    summary="Diagnostic runbooks",
    openapi_extra=extension(),
)
def runbooks(request: HttpRequest):
    return success_body([RunbookOut.from_model(r) for r in runbook_queries.runbooks()])


@router.get(
    "/runbooks/{slug}",
    auth=operator_read,
    response={200: Envelope[RunbookOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    summary="One runbook with its steps and branch rules",
    openapi_extra=extension(),
)
def runbook_detail(request: HttpRequest, slug: str):
    return success_body(RunbookOut.from_model(get_runbook(slug)))


@router.get(
    "/devices/{device_id}/runbook-suggestions",
    auth=operator_read,
    response={200: Envelope[list[RunbookSuggestion]], 404: ErrorEnvelope, **QUERY_ERRORS},
    summary="Runbooks ranked for a device by its recent faults and state",
    openapi_extra=extension(),
)
def runbook_suggestions(request: HttpRequest, device_id: str):
    device = get_device_for_operator(request.auth.operator_id, device_id)
    return success_body(suggest(device))


class DiagnosticCommandRequest(RequestSchema):
    command: StrictStr = Field(
        max_length=64, description="reboot, soft_reset, fetch_logs, run_self_test, …"
    )
    connector_id: int | None = Field(None, ge=1, le=255)
    params: dict[str, Any] | None = None
    confirm: bool = Field(False, description="Required true for medium-risk commands.")


class CommandQueuedOut(BaseModel):
    command_id: str
    status: Literal["queued"] = "queued"


@router.post(
    "/devices/{device_id}/diagnostic-commands",
    auth=operator_write,
    response={200: Envelope[CommandQueuedOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    summary="Send a remote diagnostic command",
    openapi_extra=extension(),
)
def diagnostic_command(request: HttpRequest, device_id: str, payload: DiagnosticCommandRequest):
    """Same queue, delivery, status reporting and timeouts as every command. Medium-risk
    types (run_self_test, calibrate_sensor, reset_power_module, unlock_connector) need
    `confirm: true`; unlock_connector is refused while the connector is in a session."""
    command = send_diagnostic_command(
        actor_from_request(request),
        device_id,
        payload.command,
        payload.connector_id,
        payload.params,
        payload.confirm,
    )
    return success_body(CommandQueuedOut(command_id=command.command_id))
