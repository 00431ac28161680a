"""The API's own shapes: the envelopes of its answers, and the base every response schema
builds on. The request building blocks (strict numbers, text, timestamps) are the input
contracts, in fleet/contracts/common.py.
"""

from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

T = TypeVar("T")


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
