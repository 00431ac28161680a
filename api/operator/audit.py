"""The audit log (proposed-extensions §11)."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router
from pydantic import BaseModel

from api.auth import operator_read
from api.operator.common import EXTENSION_TAG, QUERY_ERRORS, PageParams, extension, page_body
from api.schemas.common import Envelope, Page, Timestamp
from fleet.models import AuditEntry
from fleet.services.paging import paginate

router = Router(tags=["Diagnostics", EXTENSION_TAG])


class AuditFilters(PageParams):
    actor: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    since: Timestamp | None = None


class AuditEntryOut(BaseModel):
    actor: str
    action: str
    resource_type: str
    resource_id: str
    details: dict[str, Any]
    ip: str | None = None
    at: datetime


@router.get(
    "/audit-logs",
    auth=operator_read,
    response={200: Envelope[Page[AuditEntryOut]], **QUERY_ERRORS},
    summary="Who did what, newest first",
    openapi_extra=extension(),
)
def audit_logs(request: HttpRequest, filters: Query[AuditFilters]):
    queryset = AuditEntry.objects.filter(operator_id=request.auth.operator_id)
    for name in ("actor", "resource_type", "resource_id", "action"):
        if value := getattr(filters, name):
            queryset = queryset.filter(**{name: value})
    if filters.since:
        queryset = queryset.filter(at__gte=filters.since)
    items, total = paginate(queryset.order_by("-at", "-id"), filters.page, filters.size)
    fields = AuditEntryOut.model_fields
    return page_body([{name: getattr(e, name) for name in fields} for e in items], total, filters)
