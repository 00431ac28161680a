"""Building blocks for request and response schemas at the API edge.

Request types are strict: a charger or partner sending `"5"` for a number, `true` for
an integer or a timestamp without a zone gets 1001, not a silent coercion.
"""

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
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


# ISO 8601 with a zone, e.g. 2025-03-15T11:00:00Z.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_must_be_text)]
# A finite JSON number (integers allowed, booleans and strings not).
Number = Annotated[StrictFloat, Field(allow_inf_nan=False)]
Integer = StrictInt


def Text(max_length: int, min_length: int = 1) -> Any:
    return Annotated[
        StrictStr,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
    ]


class RequestSchema(BaseModel):
    """Base for request bodies: extra fields are ignored unless a schema says otherwise."""

    model_config = ConfigDict(extra="ignore")


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
