from typing import Any

from django.db.models import QuerySet


def paginate(queryset: QuerySet, page: int, size: int) -> tuple[list[Any], int]:
    """One page (1-based) of an ordered queryset, and the count of all matches."""
    total = queryset.count()
    offset = (page - 1) * size
    return list(queryset[offset : offset + size]), total
