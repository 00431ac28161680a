"""Building blocks for request and response schemas at the API edge.

Request types are strict: a charger or partner sending `"5"` for a number, `true` for
an integer or a timestamp without a zone gets 1001, not a silent coercion.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Self, TypeVar

from django.conf import settings
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
)

T = TypeVar("T")


def _timestamp_must_be_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string with a time zone")
    return value


# Every time we accept lies in [EARLIEST, LATEST) once converted to UTC: far enough out
# for any real use, and inside what Python, PostgreSQL and the bucket arithmetic of the
# energy aggregation can all represent (year 1 or 9999 with an offset cannot be).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_RANGE_REASON = "must lie between 2000-01-01T00:00:00Z and 2100-01-01T00:00:00Z"


def _in_supported_range(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)  # any offset the parser accepts, up to ±23:59
    except OverflowError:
        raise ValueError(_RANGE_REASON) from None
    if not EARLIEST <= value < LATEST:
        raise ValueError(_RANGE_REASON)
    return value


def _not_ahead_of_server_clock(value: datetime) -> datetime:
    allowance = settings.TELLUS_CLOCK_SKEW_SECONDS
    if value > datetime.now(UTC) + timedelta(seconds=allowance):
        raise ValueError(f"must not be more than {allowance} s ahead of the server clock")
    return value


def within_device_window(value: datetime) -> bool:
    """Whether a charger's time can be kept as it is: representable in UTC, not before
    2000 and not further ahead of our clock than the clock-skew allowance."""
    try:
        _not_ahead_of_server_clock(_in_supported_range(value))
    except ValueError:
        return False
    return True


# Any ISO 8601 time with a zone the parser accepts, converted nowhere: for times a
# charger reports that are never stored or are checked by within_device_window.
ClaimedTimestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_must_be_text)]
# ISO 8601 with a zone, e.g. 2025-03-15T11:00:00Z, normalised to UTC.
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_timestamp_must_be_text),
    AfterValidator(_in_supported_range),
]
# A time a charger measured: not before 2000, and not further ahead of our clock than
# the clock-skew allowance (TELLUS_CLOCK_SKEW_SECONDS).
DeviceTimestamp = Annotated[Timestamp, AfterValidator(_not_ahead_of_server_clock)]
# A finite JSON number (integers allowed, booleans and strings not).
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
# Integers that fit the database's 32-bit columns (fault codes, counts, page numbers).
Int32 = Annotated[StrictInt, Field(ge=-(2**31), le=2**31 - 1)]


def Measure(minimum: float, maximum: float) -> Any:
    """A finite number inside the physical plausibility bounds of what it measures."""
    return Annotated[StrictFloat, Field(ge=minimum, le=maximum, allow_inf_nan=False)]


def Text(max_length: int, min_length: int = 1) -> Any:
    return Annotated[
        StrictStr,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
    ]


class RequestSchema(BaseModel):
    """Base for request bodies: extra fields are ignored unless a schema says otherwise."""

    model_config = ConfigDict(extra="ignore")


class ResponseSchema(BaseModel):
    """Base for response schemas: each one is the single declaration of a resource's answer.

    An answer is read from the model instance's attributes, field by field
    (`from_model`). A field whose attribute has another name says so with
    `validation_alias`; a value that is no attribute (computed, or looked up elsewhere)
    is passed to `from_model` under the name the field reads.
    """

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_model(cls, instance: Any, **computed: Any) -> Self:
        return cls.model_validate(_WithValues(instance, computed) if computed else instance)


class _WithValues:
    """An instance whose attributes named in `values` read from there instead."""

    __slots__ = ("_instance", "_values")

    def __init__(self, instance: Any, values: dict[str, Any]) -> None:
        self._instance = instance
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return getattr(self._instance, name)


def _none_if_empty(value: Any) -> Any:
    return value or None


def _related_rows(value: Any) -> Any:
    # A reverse relation is a manager; `.all()` uses its prefetched rows when there are some.
    return list(value.all()) if hasattr(value, "all") else value


# Text columns store "" for "none"; the API answers null.
EmptyAsNull = Annotated[str | None, BeforeValidator(_none_if_empty)]
# A field read from a reverse relation (a related manager): its rows.
Related = BeforeValidator(_related_rows)


class Envelope(BaseModel, Generic[T]):
    code: int = Field(0, description="0 on success.")
    message: str = "success"
    data: T


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Number of matching records in all.")
    page: int
    size: int


class ErrorEnvelope(BaseModel):
    code: int
    message: str
    data: None = None
    details: dict[str, Any] | None = None
