from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import BaseModel, Field

from api.auth import operator_read
from api.envelope import success_body
from api.schemas.common import Envelope, ErrorEnvelope, Page
from api.schemas.operator import DeviceOut, SiteOut
from fleet.services.sites import list_sites
from fleet.services.tenancy import get_device_for_operator

router = Router(tags=["Operator — Sites & Devices"])


class PageParams(BaseModel):
    page: int = Field(1, ge=1, description="1-based page number.")
    size: int = Field(20, ge=1, le=100, description="Page size, at most 100.")


class SiteFilters(PageParams):
    status: Literal["active", "inactive"] | None = None


def site_out(summary) -> dict:
    site = summary.site
    out = {
        "site_id": site.site_id,
        "name": site.name,
        "address": site.address,
        "total_connectors": summary.total_connectors,
        "status_summary": summary.status_summary(),
        "power_capacity": site.power_capacity,
        "created_at": site.created_at,
        "status": site.status,
    }
    if site.lat is not None:
        out["location"] = {"lat": site.lat, "lng": site.lng}
    return out


def device_out(device) -> dict:
    return {
        "device_id": device.device_id,
        "sn": device.sn,
        "model": device.model,
        "manufacturer": device.manufacturer,
        "firmware_version": device.firmware_version,
        "status": device.status,
        "last_heartbeat": device.last_heartbeat,
        "site_id": device.site_id,
        "v2g_capable": device.v2g_capable,
        "connectors": [
            {
                "connector_id": c.connector_id,
                "status": c.state,
                "power": c.power,
                "voltage": c.voltage,
                "current": c.current,
                "energy_delivered": c.energy_delivered,
                "soc": c.soc,
                "temperature": c.temperature,
                "last_telemetry_time": c.last_telemetry_time,
            }
            for c in device.connectors.all()
        ],
    }


@router.get(
    "/sites",
    auth=operator_read,
    response={200: Envelope[Page[SiteOut]], 400: ErrorEnvelope, 401: ErrorEnvelope},
    exclude_none=True,
    summary="List sites",
)
def sites(request: HttpRequest, filters: Query[SiteFilters]):
    """The caller's sites with live connector aggregates, oldest first."""
    summaries, total = list_sites(
        request.auth.operator_id, filters.page, filters.size, filters.status
    )
    return success_body(
        {
            "items": [site_out(s) for s in summaries],
            "total": total,
            "page": filters.page,
            "size": filters.size,
        }
    )


@router.get(
    "/devices/{device_id}",
    auth=operator_read,
    response={200: Envelope[DeviceOut], 401: ErrorEnvelope, 404: ErrorEnvelope},
    exclude_none=True,
    summary="Get a device with its connectors",
)
def device_detail(request: HttpRequest, device_id: str):
    device = get_device_for_operator(request.auth.operator_id, device_id)
    return success_body(device_out(device))
