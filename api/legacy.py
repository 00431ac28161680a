"""The legacy operator-to-operator endpoints we serve (decision: legacy-roles): PascalCase, no
envelope. The spec declares no security; we require an operator bearer token anyway (decision:
legacy-auth): `read` for the two queries, `write` for start/stop, scoped to the caller's fleet.

Errors (decision: legacy-errors): the matching HTTP status with `{"Status": "Reject"}` (start
endpoints:
`START_FAILED`) plus `Reason` and `Code` where the answer has a Status; the standard
envelope on the query endpoints.
"""

from collections.abc import Callable
from typing import Annotated, Any

from django.http import HttpRequest, JsonResponse
from ninja import Router
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from api.auth import authenticate_operator_request
from api.edge import Refusal, validate_body
from api.envelope import (
    HTTP_STATUS,
    LEGACY_FAILURE_STATUS,
    legacy_failure_body,
    tellus_error_response,
)
from api.input_guard import load_json
from api.operator.common import MAX_PAGE
from api.schemas.reporting import MAX_SESSION_KWH
from fleet.actors import Actor, request_ip
from fleet.errors import InvalidParameter, MissingParameter, TellusError
from fleet.models import ApiClient, LegacyOrder
from fleet.services import legacy

router = Router(tags=["Operator-to-operator (legacy interop)"])

Id64 = Annotated[StrictStr, Field(min_length=1, max_length=64)]
ConnectorNo = Annotated[StrictInt, Field(ge=1, le=255)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StationInfoQuery(Strict):
    LastQueryTime: str | None = None
    PageNo: Annotated[StrictInt, Field(ge=1, le=MAX_PAGE)] = 1
    PageSize: Annotated[StrictInt, Field(ge=1, le=100)] = 10


class StartCharging(Strict):
    OrderId: Id64
    ChargePointId: Id64
    ConnectorId: ConnectorNo
    Note: Annotated[StrictStr, Field(max_length=255)] | None = None


class StartDischarging(StartCharging):
    LimitMinSOC: Annotated[StrictInt, Field(ge=0, le=100)] | None = None
    # No more than one session can deliver: the bound of the v1 energy fields.
    LimitMaxEnergy: Annotated[StrictInt, Field(ge=1, le=MAX_SESSION_KWH)] | None = Field(
        None, description="kWh (decision: legacy-units)."
    )


class StopRequest(Strict):
    ChargePointId: Id64
    ConnectorId: ConnectorNo


def _principal(request: HttpRequest, scope: str):
    return authenticate_operator_request(request, scope, "operator_query")


def _body(request: HttpRequest, model: type[BaseModel] | None = None) -> Any:
    data = load_json(request.body or b"null")
    if model is None:
        return data
    return validate_body(model, data if data is not None else {})


def _with_status(handler: Callable[[HttpRequest], dict]):
    """Run a Status-typed endpoint; failures keep the Status shape, with the Status the
    middleware uses for this path (LEGACY_FAILURE_STATUS)."""

    def view(request: HttpRequest):
        try:
            return JsonResponse(handler(request))
        except TellusError as exc:
            failure_status = LEGACY_FAILURE_STATUS[request.path]
            body = legacy_failure_body(failure_status, exc.code, exc.message, exc.details)
            return JsonResponse(body, status=HTTP_STATUS[exc.code])

    return view


def _enveloped(handler: Callable[[HttpRequest], Any]):
    def view(request: HttpRequest):
        try:
            return JsonResponse(handler(request), safe=False)
        except TellusError as exc:
            return tellus_error_response(exc)

    return view


def _client(principal) -> ApiClient:
    return ApiClient.objects.get(client_id=principal.client_id)


def _query_station_info(request: HttpRequest) -> dict:
    principal = _principal(request, "read")
    query = _body(request, StationInfoQuery)
    return legacy.query_station_info(
        principal.operator_id, query.LastQueryTime or None, query.PageNo, query.PageSize
    )


def _query_station_status(request: HttpRequest) -> list:
    principal = _principal(request, "read")
    ids = _body(request)
    if not isinstance(ids, list) or not all(isinstance(i, str) and 0 < len(i) <= 64 for i in ids):
        raise Refusal(1001, "Body must be an array of charge point ids", {"field": "body"})
    if not ids:
        raise MissingParameter("body", "At least one charge point id is required")
    if len(ids) > 50:
        raise InvalidParameter("body", len(ids), "At most 50 charge point ids per query")
    return legacy.query_station_status(principal.operator_id, ids)


def _start(kind: str, model: type[StartCharging]):
    def handler(request: HttpRequest) -> dict:
        principal = _principal(request, "write")
        body = _body(request, model)
        params: dict[str, Any] = {}
        if isinstance(body, StartDischarging):
            if body.LimitMinSOC is not None:
                params["min_soc"] = body.LimitMinSOC
            if body.LimitMaxEnergy is not None:
                params["max_energy_kwh"] = body.LimitMaxEnergy
        order = legacy.start_order(
            Actor.for_client(principal, request_ip(request)), _client(principal), kind,
            body.OrderId, body.ChargePointId, body.ConnectorId, params, body.Note or "",
        )  # fmt: skip
        return {"Status": order.status, "DeviceVendorOrderId": order.vendor_order_id}

    return handler


def _stop(reason: str):
    def handler(request: HttpRequest) -> dict:
        principal = _principal(request, "write")
        body = _body(request, StopRequest)
        actor = Actor.for_client(principal, request_ip(request))
        legacy.stop_order(actor, body.ChargePointId, body.ConnectorId, reason)
        return {"Status": "Accept"}

    return handler


router.add_api_operation(
    "/customer/query_station_info", ["PUT"], _enveloped(_query_station_info),
    operation_id="legacy_query_station_info",
    summary="Charge points, incremental since LastQueryTime",
)  # fmt: skip
router.add_api_operation(
    "/cp/query_station_status", ["PUT"], _enveloped(_query_station_status),
    operation_id="legacy_query_station_status",
    summary="Current status of up to 50 charge points",
)  # fmt: skip
router.add_api_operation(
    "/cp/start_charging", ["POST"],
    _with_status(_start(LegacyOrder.Kind.CHARGE, StartCharging)),
    operation_id="legacy_start_charging",
    summary="Start charging for a peer order",
)  # fmt: skip
router.add_api_operation(
    "/cp/stop_charging", ["POST"],
    _with_status(_stop("peer_stop_charging")),
    operation_id="legacy_stop_charging",
    summary="Stop charging",
)  # fmt: skip
router.add_api_operation(
    "/cp/start_discharging", ["POST"],
    _with_status(_start(LegacyOrder.Kind.DISCHARGE, StartDischarging)),
    operation_id="legacy_start_discharging",
    summary="Start a V2G discharge for a peer order",
)  # fmt: skip
router.add_api_operation(
    "/cp/stop_discharging", ["POST"],
    _with_status(_stop("peer_stop_discharging")),
    operation_id="legacy_stop_discharging",
    summary="Stop a V2G discharge",
)  # fmt: skip
