"""The fault dictionary as an API (proposed extensions; read scope)."""

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import BaseModel, Field, StrictStr

from api.auth import operator_read, operator_write
from api.envelope import success_body
from api.operator.common import EXTENSION_TAG, QUERY_ERRORS, PageParams, extension, page_body
from api.schemas.common import EmptyAsNull, Envelope, ErrorEnvelope, Page, ResponseSchema
from diagnostics.models import FaultCode
from diagnostics.queries import faults as fault_queries
from diagnostics.queries import runbooks as runbook_queries
from diagnostics.queries.undocumented import (
    TELEMETRY_PER_SIDE,
    TELEMETRY_WINDOW,
    Occurrence,
    code_events,
    latest_events,
    occurrences,
)
from diagnostics.services.faults import firmware_assessment, get_fault, undocumented_codes
from diagnostics.services.remote_commands import send_diagnostic_command
from diagnostics.services.runbooks.runs import get_runbook
from diagnostics.services.runbooks.suggestions import suggest
from fleet.actors import actor_from_request
from fleet.contracts.common import FilterText, RequestSchema
from fleet.errors import NotFound
from fleet.queries.paging import paginate
from fleet.services.tenancy import get_device_for_operator

TAG = "Diagnostics"
# Undocumented codes: the newest reports listed with each code (the rest are paged under
# the code's occurrences).
LATEST_OCCURRENCES = 3
TELEMETRY_MINUTES = int(TELEMETRY_WINDOW.total_seconds() // 60)
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
    firmware_statement: EmptyAsNull = Field(
        None,
        description="Extension: what the documentation says about firmware when it is scoped "
        "(e.g. no issue known from one build onwards); absent when it states nothing narrower "
        "than `known_firmware_issues`.",
    )
    thresholds: dict[str, Any]
    firmware: list[dict[str, Any]] | None = Field(
        None, description="With ?device_id=: the device's firmware against known issues."
    )


class TelemetryNearby(BaseModel):
    connector_id: int
    timestamp: datetime
    offset_seconds: float = Field(description="The sample's time minus the occurrence's.")
    state: str
    voltage: float
    current: float
    power: float
    temperature: float | None = None


class UndocumentedOccurrence(BaseModel):
    """One report of an undocumented code, with what Tellus asks for about it."""

    device_id: str
    sn: str
    connector_id: int
    timestamp: datetime
    claimed_timestamp: EmptyAsNull = Field(
        None, description="The charger's own time when its clock was not trusted."
    )
    data: dict[str, Any] = Field(
        description="The event payload as the charger sent it (fault_code, fault_message, "
        "details and anything else it put there)."
    )
    firmware_version: str | None = Field(
        description="The firmware the charger ran at that moment, from its upgrade history; "
        "null when not known."
    )
    telemetry: list[TelemetryNearby] = Field(
        description=f"The connector's samples within {TELEMETRY_MINUTES} minutes of the "
        f"occurrence, the {TELEMETRY_PER_SIDE} nearest on each side, in time order (every "
        "connector's for connector 0)."
    )


class UndocumentedCode(BaseModel):
    fault_code: str
    count: int
    first_seen: datetime
    last_seen: datetime
    devices: list[str]
    latest_occurrences: list[UndocumentedOccurrence] = Field(
        default_factory=list,
        description=f"Extension: the {LATEST_OCCURRENCES} newest reports of the code, newest "
        "first; all of them under /faults/undocumented/{code}/occurrences.",
    )


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
    """Counts, first and last seen, the devices and the newest reports with their payload,
    firmware and telemetry: what Tellus asks for about a code it has not documented."""
    operator_id = request.auth.operator_id
    rows = undocumented_codes(operator_id)
    latest = latest_events(
        operator_id, [row["fault_code"] for row in rows], None, LATEST_OCCURRENCES
    )
    reports = occurrences(operator_id, [event for events in latest.values() for event in events])
    by_code: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        by_code.setdefault(report.fault_code, []).append(occurrence_body(report))
    for row in rows:
        row["latest_occurrences"] = by_code.get(row["fault_code"], [])
    return success_body(rows)


@router.get(
    "/faults/undocumented/{code}/occurrences",
    auth=operator_read,
    response={200: Envelope[Page[UndocumentedOccurrence]], 404: ErrorEnvelope, **QUERY_ERRORS},
    summary="Every report of an undocumented fault code in your fleet, newest first",
    openapi_extra=extension(),
)
def undocumented_occurrences(request: HttpRequest, code: str, paging: Query[PageParams]):
    """Each with its payload as sent, the charger's firmware at that moment and the
    telemetry around it. A code the dictionary knows is not found here."""
    if FaultCode.objects.filter(code=code).exists():
        raise NotFound(f"Fault code '{code}' is in the dictionary: see /faults/{code}")
    operator_id = request.auth.operator_id
    page = paginate(code_events(operator_id, code), paging.page, paging.size)
    return page_body(page, [occurrence_body(o) for o in occurrences(operator_id, page.items)])


def occurrence_body(occurrence: Occurrence) -> dict[str, Any]:
    return {
        "device_id": occurrence.device_id,
        "sn": occurrence.sn,
        "connector_id": occurrence.connector_id,
        "timestamp": occurrence.timestamp,
        "claimed_timestamp": occurrence.claimed_timestamp,
        "data": occurrence.payload,
        "firmware_version": occurrence.firmware_version,
        "telemetry": [
            {
                "connector_id": sample.connector_id,
                "timestamp": sample.timestamp,
                "offset_seconds": sample.offset.total_seconds(),
                "state": sample.state,
                "voltage": sample.voltage,
                "current": sample.current,
                "power": sample.power,
                "temperature": sample.temperature,
            }
            for sample in occurrence.telemetry
        ],
    }


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
