"""Building blocks of the input contracts.

Input types are strict: a charger or partner sending `"5"` for a number, `true` for an
integer or a timestamp without a zone is refused, not silently coerced.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

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

# Ids, codes, names and versions given as query filters are never longer than this.
MAX_FILTER_LENGTH = 128

FilterText = Annotated[str, Field(max_length=MAX_FILTER_LENGTH)]


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
