"""ResponseSchema: an answer read from a model's attributes, as its schema declares."""

from types import SimpleNamespace
from typing import Annotated

from pydantic import Field

from api.schemas.common import EmptyAsNull, Related, ResponseSchema


class Part(ResponseSchema):
    name: str


class Thing(ResponseSchema):
    thing_id: str
    count: int = Field(validation_alias="fact_count")
    code: EmptyAsNull = None
    parts: Annotated[list[Part], Related]
    label: str | None = None


class Manager:
    """Stands in for a related manager: only `.all()` gives the rows."""

    def __init__(self, *rows):
        self.rows = rows

    def all(self):
        return self.rows


def thing(**overrides):
    values = {"thing_id": "t1", "fact_count": 3, "code": "", "parts": Manager(), **overrides}
    return SimpleNamespace(**values)


def test_fields_are_read_from_attributes_under_their_declared_names():
    parts = Manager(SimpleNamespace(name="a"), SimpleNamespace(name="b"))
    answer = Thing.from_model(thing(code="F-1", parts=parts))
    assert answer.model_dump() == {
        "thing_id": "t1",
        "count": 3,
        "code": "F-1",
        "parts": [{"name": "a"}, {"name": "b"}],
        "label": None,
    }


def test_empty_text_answers_null():
    assert Thing.from_model(thing(code="")).code is None


def test_computed_values_replace_attributes_and_are_validated():
    answer = Thing.from_model(
        thing(label="from the model"), label="computed", parts=[{"name": "c"}]
    )
    assert answer.label == "computed"
    assert answer.parts == [Part(name="c")]
