from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from api.auth import operator_read
from api.envelope import success_body
from api.operator.common import EXTENSION_TAG, QUERY_ERRORS, PageParams, extension, page_body
from api.schemas.common import Envelope, ErrorEnvelope, Page
from api.schemas.operator import (
    DeviceEventOut,
    DeviceOut,
    SiteOut,
    TelemetrySampleOut,
)
from diagnostics.queries import faults as fault_queries
from fleet.contracts.common import FilterText, Timestamp
from fleet.models import DeviceEvent
from fleet.queries import devices as device_queries
from fleet.queries import sites as site_queries
from fleet.queries.paging import paginate
from fleet.services.tenancy import get_device_for_operator, get_site_for_operator

TAG = "Operator — Sites & Devices"
router = Router(tags=[TAG])


class SiteFilters(PageParams):
    status: Literal["active", "inactive"] | None = None


class DeviceFilters(PageParams):
    site_id: FilterText | None = None
    status: Literal["online", "offline"] | None = None
    model: FilterText | None = None
    firmware_version: FilterText | None = None


class EventFilters(PageParams):
    event_type: FilterText | None = None
    fault_code: FilterText | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None


class TelemetryFilters(PageParams):
    connector_id: int | None = Field(None, ge=1, le=255)
    since: Timestamp | None = None
    until: Timestamp | None = None


@router.get(
    "/sites",
    auth=operator_read,
    response={200: Envelope[Page[SiteOut]], **QUERY_ERRORS},
    exclude_none=True,
    summary="List sites",
)
def sites(request: HttpRequest, filters: Query[SiteFilters]):
    """The caller's sites with live connector aggregates, oldest first."""
    queryset = site_queries.sites(request.auth.operator_id, **filters.filter_values())
    page = paginate(queryset, filters.page, filters.size)
    summaries = site_queries.summarise_sites(page.items)
    return page_body(page, [SiteOut.from_summary(s) for s in summaries])


@router.get(
    "/devices/{device_id}",
    auth=operator_read,
    response={200: Envelope[DeviceOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    summary="Get a device with its connectors",
)
def device_detail(request: HttpRequest, device_id: str):
    device = get_device_for_operator(request.auth.operator_id, device_id)
    return success_body(DeviceOut.from_model(device))


@router.get(
    "/sites/{site_id}",
    auth=operator_read,
    response={200: Envelope[SiteOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    summary="Get one site with its aggregates (extension)",
    openapi_extra=extension(),
    tags=[TAG, EXTENSION_TAG],
)
def site_detail(request: HttpRequest, site_id: str):
    site = get_site_for_operator(request.auth.operator_id, site_id)
    return success_body(SiteOut.from_summary(site_queries.summarise_sites([site])[0]))


@router.get(
    "/devices",
    auth=operator_read,
    response={200: Envelope[Page[DeviceOut]], 404: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    summary="List devices (extension, decision: discovery-extensions)",
    openapi_extra=extension(),
    tags=[TAG, EXTENSION_TAG],
)
def device_list(request: HttpRequest, filters: Query[DeviceFilters]):
    """The caller's devices, oldest registration first; `site_id` must be the caller's."""
    queryset = device_queries.devices(request.auth.operator_id, **filters.filter_values())
    page = paginate(queryset, filters.page, filters.size)
    return page_body(page, [DeviceOut.from_model(d) for d in page.items])


@router.get(
    "/devices/{device_id}/events",
    auth=operator_read,
    response={200: Envelope[Page[DeviceEventOut]], 404: ErrorEnvelope, **QUERY_ERRORS},
    summary="A device's event log (extension, decision: events-extension)",
    openapi_extra=extension(),
    tags=[TAG, EXTENSION_TAG],
)
def device_events(request: HttpRequest, device_id: str, filters: Query[EventFilters]):
    """Newest first. `since` is inclusive, `until` exclusive."""
    queryset = device_queries.device_events(
        request.auth.operator_id, device_id, **filters.filter_values()
    )
    page = paginate(queryset, filters.page, filters.size)
    titles = fault_queries.fault_titles(page.items)
    return page_body(page, [_event_with_title(e, titles) for e in page.items])


def _event_with_title(event: DeviceEvent, titles: dict[str, str]) -> DeviceEventOut:
    # Set on the answer rather than passed to from_model: the cheaper way on pages of a
    # hundred events.
    answer = DeviceEventOut.from_model(event)
    answer.fault_title = titles.get(event.fault_code)
    return answer


@router.get(
    "/devices/{device_id}/telemetry",
    auth=operator_read,
    response={200: Envelope[Page[TelemetrySampleOut]], 404: ErrorEnvelope, **QUERY_ERRORS},
    summary="A device's stored telemetry (extension)",
    openapi_extra=extension(),
    tags=[TAG, EXTENSION_TAG],
)
def device_telemetry(request: HttpRequest, device_id: str, filters: Query[TelemetryFilters]):
    """Raw samples as received, newest first, for power curves and post-incident work."""
    queryset = device_queries.device_telemetry(
        request.auth.operator_id, device_id, **filters.filter_values()
    )
    page = paginate(queryset, filters.page, filters.size)
    return page_body(page, [TelemetrySampleOut.from_model(s) for s in page.items])
