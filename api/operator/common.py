"""Pieces shared by the operator routers."""

from typing import Any

from pydantic import BaseModel, Field

from api.envelope import success_body
from api.schemas.common import ErrorEnvelope
from fleet.queries.paging import Page

# Marks operations that go beyond the published v1.3 specification: the flag, and the
# "Extensions" tag beside the operation's own (pass as `tags=`).
EXTENSION_TAG = "Extensions"


def extension() -> dict[str, Any]:
    return {"x-tellus-extension": True}


# Far beyond any real listing, and small enough that the offset fits any integer column.
MAX_PAGE = 1_000_000

QUERY_ERRORS = {400: ErrorEnvelope, 401: ErrorEnvelope, 403: ErrorEnvelope, 429: ErrorEnvelope}


class PageParams(BaseModel):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="1-based page number.")
    size: int = Field(20, ge=1, le=100, description="Page size, at most 100.")

    def filter_values(self) -> dict[str, Any]:
        """The listing's filters, named as its query function's keyword arguments."""
        return self.model_dump(exclude={"page", "size"})


def page_body(page: Page, items: list[Any]) -> dict[str, Any]:
    """The envelope of one page, with its items already shaped for the API."""
    return success_body({"items": items, "total": page.total, "page": page.page, "size": page.size})
