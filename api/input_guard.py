"""The one gate every byte from outside passes before our code reads it.

PostgreSQL refuses NUL in text and in JSON, Python's JSON accepts NaN and Infinity that
no column can hold, a deeply nested body exhausts the stack, and a free-form object
(event data, telemetry extras, record details, command params) would otherwise keep a
string of any length and serve it back on every read. Rather than defend each field,
bodies, query strings and paths are checked here once, for every surface (the Ninja
routes, the charger fast path, the legacy routes, the stream handshake), and refused
with 1001 naming the offending field.
"""

import math
from typing import Any
from urllib.parse import parse_qsl

import orjson

from fleet.errors import InvalidParameter

# Deepest nesting accepted in a JSON body: the spec's deepest object is three levels;
# free-form blocks (event data, record details) get generous room on top.
MAX_JSON_DEPTH = 32
# Longest string and longest object key anywhere in a JSON body (characters). Named fields
# have their own, tighter limits (the longest, a note, is 2,000); this is what bounds the
# free-form objects, whose keys and values no schema names. Chargers send keys of a few
# dozen characters and values of a few hundred at most (a diagnostic message, a URL).
MAX_JSON_STRING = 2048
MAX_JSON_KEY = 128
NUL = "\x00"


class BodyNotJson(InvalidParameter):
    """The body is not a strict JSON document (syntax, NaN, Infinity, lone surrogates)."""

    def __init__(self, reason: str):
        super().__init__("body", None, "Request body is not valid JSON", reason=reason)
        self.details.pop("value")


def _too_long(field: str) -> InvalidParameter:
    # The value is left out: echoing a string refused for its length defeats the limit.
    return InvalidParameter(
        field,
        None,
        f"Parameter '{field}' is longer than {MAX_JSON_STRING} characters",
        reason="too_long",
        max_length=MAX_JSON_STRING,
    )


def _key_too_long(field: str) -> InvalidParameter:
    return InvalidParameter(
        field,
        None,
        f"A key of '{field}' is longer than {MAX_JSON_KEY} characters",
        reason="key_too_long",
        max_length=MAX_JSON_KEY,
    )


def check_value(value: Any, field: str = "body", depth: int = 0) -> None:
    """Refuse NUL characters, strings over MAX_JSON_STRING and keys over MAX_JSON_KEY
    characters, non-finite numbers and nesting deeper than MAX_JSON_DEPTH anywhere in a
    decoded JSON value; `field` is the dotted path for the error."""
    if isinstance(value, str):
        if len(value) > MAX_JSON_STRING:
            raise _too_long(field)
        if NUL in value:
            raise InvalidParameter(field, value, f"Parameter '{field}' contains a NUL character")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidParameter(field, None, f"Parameter '{field}' must be a finite number")
    elif isinstance(value, (dict, list)):
        if depth >= MAX_JSON_DEPTH:
            raise InvalidParameter(
                field,
                None,
                f"Request body is nested deeper than {MAX_JSON_DEPTH} levels",
                reason="too_deep",
                max_depth=MAX_JSON_DEPTH,
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_JSON_KEY:
                    raise _key_too_long(field)
                path = key if field == "body" else f"{field}.{key}"
                if NUL in key:
                    raise InvalidParameter(
                        path, key, f"A key of '{field}' contains a NUL character"
                    )
                check_value(item, path, depth + 1)
        else:
            for index, item in enumerate(value):
                check_value(item, f"{field}[{index}]", depth + 1)


def load_json(body: bytes | str) -> Any:
    """Decode a request body as strict JSON and run check_value over it."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BodyNotJson(str(exc).split(":")[0]) from None
    check_value(data)
    return data


def check_query_string(query_string: str) -> None:
    """Refuse a NUL (raw or percent-encoded) in any query parameter name or value."""
    if NUL not in query_string and "%00" not in query_string:
        return
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if NUL in key or NUL in value:
            name = key.replace(NUL, "") or "query"
            raise InvalidParameter(name, value, f"Parameter '{name}' contains a NUL character")


def check_path(path: str) -> None:
    """Refuse a NUL in the (already percent-decoded) request path."""
    if NUL in path:
        raise InvalidParameter("path", path, "The request path contains a NUL character")


def check_form(data: dict[str, str]) -> None:
    """The rules of check_value for a form body (the token endpoints)."""
    for key, value in data.items():
        if len(key) > MAX_JSON_KEY:
            raise _key_too_long("body")
        if len(value) > MAX_JSON_STRING:
            raise _too_long(key)
        if NUL in key or NUL in value:
            raise InvalidParameter(key, value, f"Parameter '{key}' contains a NUL character")
