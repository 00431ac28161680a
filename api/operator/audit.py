"""The audit log (docs/diagnostics.md, Audit log)."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import Field

from api.auth import operator_read
from api.operator.common import EXTENSION_TAG, QUERY_ERRORS, PageParams, extension, page_body
from api.schemas.common import Envelope, Page, ResponseSchema
from fleet.contracts.common import FilterText, Timestamp
from fleet.queries import audit as audit_queries
from fleet.queries.paging import paginate

router = Router(tags=["Diagnostics", EXTENSION_TAG])


class AuditFilters(PageParams):
    actor: str | None = Field(None, max_length=150)
    resource_type: FilterText | None = None
    resource_id: FilterText | None = None
    action: FilterText | None = None
    since: Timestamp | None = None


class AuditEntryOut(ResponseSchema):
    actor: str = Field(description="client:<id>, user:<name>, cli:<os user> or platform")
    operator_id: str | None = Field(description="The operator whose trail holds the entry.")
    action: str
    resource_type: str = Field(description="The subject's kind: device, client, site, …")
    resource_id: str
    details: dict[str, Any]
    before: dict[str, Any] | None = Field(
        None, description="The changed fields before the change; null for a creation."
    )
    after: dict[str, Any] | None = Field(
        None, description="The changed fields after the change; null for a deletion."
    )
    ip: str | None = Field(None, description="The address the change came from.")
    at: datetime


@router.get(
    "/audit-logs",
    auth=operator_read,
    response={200: Envelope[Page[AuditEntryOut]], **QUERY_ERRORS},
    summary="Who did what, newest first",
    openapi_extra=extension(),
)
def audit_logs(request: HttpRequest, filters: Query[AuditFilters]):
    queryset = audit_queries.audit_entries(request.auth.operator_id, **filters.filter_values())
    page = paginate(queryset, filters.page, filters.size)
    return page_body(page, [AuditEntryOut.from_model(e) for e in page.items])
