from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import BaseModel, Field

from api.auth import operator_read
from api.envelope import success_body
from api.operator.common import QUERY_ERRORS, PageParams, page_body
from api.schemas.common import Envelope, ErrorEnvelope, Page
from api.schemas.operator import AggregatedEnergyOut, ChargingRecordOut
from fleet.contracts.common import FilterText, Timestamp
from fleet.queries import records as record_queries
from fleet.queries.paging import paginate
from fleet.services import energy

router = Router(tags=["Operator — Charging Records"])


class RecordFilters(PageParams):
    device_id: FilterText | None = None
    connector_id: int | None = Field(None, ge=1, le=255)
    start_time: Timestamp | None = None
    end_time: Timestamp | None = None


@router.get(
    "/charging-records",
    auth=operator_read,
    response={200: Envelope[Page[ChargingRecordOut]], 404: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    summary="List charging records",
)
def charging_records(request: HttpRequest, filters: Query[RecordFilters]):
    """Newest first. The time filters select records whose start_time lies in [start_time, end_time)
    (decision: record-window); an inverted range is 1001."""
    queryset = record_queries.charging_records(request.auth.operator_id, **filters.filter_values())
    page = paginate(queryset, filters.page, filters.size)
    return page_body(page, [ChargingRecordOut.from_model(r) for r in page.items])


class EnergyQuery(BaseModel):
    granularity: Literal["hour", "day", "month"]
    start_time: Timestamp
    end_time: Timestamp
    group_by: Literal["site", "operator"] | None = None
    site_ids: str | None = Field(None, max_length=8192, description="Comma-separated site ids.")


@router.get(
    "/aggregated/energy",
    auth=operator_read,
    response={200: Envelope[AggregatedEnergyOut], 404: ErrorEnvelope, **QUERY_ERRORS},
    exclude_none=True,
    tags=["Operator — Energy & Flexibility"],
    summary="Aggregated charge and discharge energy",
)
def aggregated_energy(request: HttpRequest, query: Query[EnergyQuery]):
    """UTC buckets. A session spanning several buckets is split in proportion to its time
    in each; records with negative average power count as V2G discharge. With group_by,
    each point carries its site_id or operator_id (decision: energy-groups). Foreign site ids are
    3001."""
    site_ids = [s.strip() for s in (query.site_ids or "").split(",") if s.strip()] or None
    return success_body(
        energy.aggregated_energy(
            request.auth.operator_id,
            query.granularity,
            query.start_time,
            query.end_time,
            query.group_by,
            site_ids,
        )
    )
