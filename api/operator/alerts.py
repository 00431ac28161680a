"""Alerts with state management (docs/diagnostics.md, Detectors and alerts)."""

from datetime import datetime
from typing import Any, Literal, Self

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from api.auth import operator_read, operator_write
from api.envelope import success_body
from api.operator.common import EXTENSION_TAG, QUERY_ERRORS, PageParams, extension, page_body
from api.schemas.common import EmptyAsNull, Envelope, ErrorEnvelope, Page, ResponseSchema
from diagnostics.contracts.alerts import AlertUpdate
from diagnostics.models import Alert
from diagnostics.queries import alerts as alert_queries
from diagnostics.services.alerts import get_alert, transition
from fleet.actors import actor_from_request
from fleet.contracts.common import FilterText, Timestamp
from fleet.queries.paging import paginate

router = Router(tags=["Diagnostics", EXTENSION_TAG])


class AlertFilters(PageParams):
    device_id: FilterText | None = None
    site_id: FilterText | None = None
    severity: Literal["low", "medium", "high", "critical"] | None = None
    status: Literal["open", "acknowledged", "resolved", "dismissed"] | None = None
    since: Timestamp | None = None


class AlertOut(ResponseSchema):
    alert_id: str
    detector: str
    title: str
    severity: str
    status: str
    device_id: str | None = None
    site_id: str | None = None
    fault_code: EmptyAsNull = None
    evidence: dict[str, Any]
    suggested_runbook: EmptyAsNull = None
    count: int = Field(
        validation_alias="fact_count",
        description="Distinct facts the alert covers: events with the code (repeat_fault, "
        "heartbeat_lost, reconnect_storm, cabinet_over_temperature, cooling_fan_slow), "
        "devices (firmware_cluster), telemetry samples over the limit (over_temperature), "
        "the command (discharge_no_power), preparing samples (stuck_preparing).",
    )
    detections: int = Field(
        validation_alias="fact_count", description="Deprecated: the same as count."
    )
    first_seen: datetime = Field(description="Time of the oldest fact covered.")
    last_seen: datetime = Field(description="Time of the newest fact covered.")
    closed_at: datetime | None = Field(None, description="When it was resolved or dismissed.")
    snoozed_until: datetime | None = Field(
        None, description="Dismissed with a snooze: the subject gets no new alert before this."
    )
    previous_alert_id: str | None = Field(
        None,
        validation_alias="previous_id",
        description="The subject's previous alert, closed before this one opened.",
    )
    # Not the alert's `transitions` (its related rows, one query per alert): only the
    # answers about one alert carry them, passed as `history` (from_alert).
    transitions: list[dict[str, Any]] | None = Field(None, validation_alias="history")

    @classmethod
    def from_alert(cls, alert: Alert, with_history: bool = False) -> Self:
        """The alert, with its transitions (oldest first) when asked."""
        if not with_history:
            return cls.from_model(alert)
        history = alert.transitions.values("from_status", "to_status", "note", "by", "at")
        return cls.from_model(alert, history=list(history))


@router.get(
    "/alerts",
    auth=operator_read,
    response={200: Envelope[Page[AlertOut]], **QUERY_ERRORS},
    exclude_none=True,
    summary="Alerts raised by the detectors",
    openapi_extra=extension(),
)
def alerts(request: HttpRequest, filters: Query[AlertFilters]):
    """Newest first; `since` filters on the last detection."""
    queryset = alert_queries.alerts(request.auth.operator_id, **filters.filter_values())
    page = paginate(queryset, filters.page, filters.size)
    return page_body(page, [AlertOut.from_alert(a) for a in page.items])


@router.get(
    "/alerts/{alert_id}",
    auth=operator_read,
    response={200: Envelope[AlertOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    summary="One alert with its evidence and history",
    openapi_extra=extension(),
)
def alert_detail(request: HttpRequest, alert_id: str):
    alert = get_alert(request.auth.operator_id, alert_id)
    return success_body(AlertOut.from_alert(alert, with_history=True))


@router.patch(
    "/alerts/{alert_id}",
    auth=operator_write,
    response={200: Envelope[AlertOut], 404: ErrorEnvelope, 409: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    summary="Acknowledge, resolve or dismiss an alert",
    openapi_extra=extension(),
)
def update_alert(request: HttpRequest, alert_id: str, payload: AlertUpdate):
    """open → acknowledged → resolved | dismissed (open may also go straight to resolved
    or dismissed); anything else is 409/4001. Every move is recorded in the alert's
    history and in the audit log (before, after, note, caller and address).

    Resolving or dismissing closes the alert for the facts it covers: the same detector
    and subject get a new alert (pointing to this one in `previous_alert_id`) only when
    facts received after the close meet the detector's rule again; a closed alert is
    never reopened. A dismissal may add `snooze_minutes` (1 to 43200, i.e. 30 days): no
    new alert for the subject before then, after which facts received since the
    dismissal count. `snooze_minutes` with any other status is 400/1001."""
    alert = transition(
        actor_from_request(request),
        alert_id,
        payload.status,
        payload.note,
        snooze_minutes=payload.snooze_minutes,
    )
    return success_body(AlertOut.from_alert(alert, with_history=True))
