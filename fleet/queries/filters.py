"""The filters every listing is built from: exact matches and time windows."""

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from fleet.errors import InvalidParameter


def check_time_range(
    since: datetime | None,
    until: datetime | None,
    names: tuple[str, str] = ("since", "until"),
) -> None:
    """Refuse an inverted range (1001), naming the caller's parameters."""
    if since is not None and until is not None and until <= since:
        raise InvalidParameter(names[1], until.isoformat(), f"{names[1]} must be after {names[0]}")


def in_window(
    queryset: QuerySet,
    field: str,
    since: datetime | None,
    until: datetime | None,
    names: tuple[str, str] = ("since", "until"),
) -> QuerySet:
    """[since, until) on `field`, refusing an inverted range (1001)."""
    check_time_range(since, until, names)
    if since:
        queryset = queryset.filter(**{f"{field}__gte": since})
    if until:
        queryset = queryset.filter(**{f"{field}__lt": until})
    return queryset


def narrow(queryset: QuerySet, **lookups: Any) -> QuerySet:
    """Apply each lookup that was given; None and "" mean "not filtered" (0 is a value)."""
    given = {name: value for name, value in lookups.items() if value is not None and value != ""}
    return queryset.filter(**given) if given else queryset
