"""Every number and text we accept is bounded, as our own OpenAPI document says.

Read from the served document, so a new parameter or field without a bound fails here
before a fuzzer finds the 500 behind it."""

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

# Parameters that are parsed by hand with their own bounds (documented in the summary).
HAND_PARSED = {("get", "/v1/device/commands")}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def unbounded(document: dict[str, Any], schema: dict[str, Any], where: str) -> list[str]:
    """Paths inside `schema` of numbers without both limits and texts without a length."""
    schema = resolve(document, schema)
    found: list[str] = []
    for alternative in schema.get("anyOf", []) + schema.get("allOf", []):
        found += unbounded(document, alternative, where)
    kind = schema.get("type")
    if kind in ("integer", "number"):
        lower = "minimum" in schema or "exclusiveMinimum" in schema
        upper = "maximum" in schema or "exclusiveMaximum" in schema
        if not (lower and upper):
            found.append(where)
    elif kind == "string":
        if not ({"maxLength", "enum", "format", "const"} & schema.keys()):
            found.append(where)
    elif kind == "array":
        if "maxItems" not in schema:
            found.append(where + "[]")
        found += unbounded(document, schema.get("items", {}), where + "[]")
    elif kind == "object":
        for name, field in schema.get("properties", {}).items():
            found += unbounded(document, field, f"{where}.{name}")
    return found


def test_every_accepted_number_and_text_has_a_bound(api):
    document = api.get("/v1/openapi.json").json()
    problems: list[str] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (method, path) in HAND_PARSED:
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    continue  # a path segment only ever finds a row or not
                where = f"{method.upper()} {path} ?{parameter['name']}"
                problems += unbounded(document, parameter["schema"], where)
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                problems += unbounded(document, media["schema"], f"{method.upper()} {path} body")
    assert problems == [], "\n".join(problems)
