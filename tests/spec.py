"""The official v1.3 OpenAPI document, for checking our responses against its schemas.

It lives outside the repository (../shared/reference/openapi.json). CI always has it;
where it is absent the tests that need it skip and say why.
"""

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "reference" / "openapi.json"


@cache
def official_spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.skip(f"official spec not found at {SPEC_PATH}")
    return json.loads(SPEC_PATH.read_text())


def response_schema(method: str, path: str, status: int = 200) -> dict[str, Any]:
    """The schema of a documented response; `path` as in the spec, e.g. /device/register."""
    operation = official_spec()["paths"][path][method.lower()]
    content = operation["responses"][str(status)]["content"]["application/json"]
    return content["schema"]


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def assert_matches(instance: Any, schema: dict[str, Any]) -> None:
    """Validate against a schema of the spec, resolving its internal $refs."""
    # The spec document itself is the root, so "#/components/schemas/..." resolves.
    root = {
        **official_spec(),
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "x-probe": schema,
        "$ref": "#/x-probe",
    }
    validator = Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
