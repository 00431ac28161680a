"""The one paginator behind every listing."""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class Page:
    """One 1-based page of a listing and the count of all its matches."""

    items: list[Any]
    total: int
    page: int
    size: int


def paginate(queryset: QuerySet | list, page: int, size: int) -> Page:
    """One page of an ordered queryset (or of a list already read); page and size are
    validated by the caller."""
    total = len(queryset) if isinstance(queryset, list) else queryset.count()
    offset = (page - 1) * size
    return Page(list(queryset[offset : offset + size]), total, page, size)
