"""Envelopes of the API's responses: the edge's own shapes. The request building blocks
(strict numbers, text, timestamps) are the input contracts, in fleet/contracts/common.py.
"""

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

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
