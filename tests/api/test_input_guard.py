"""The input gate, as properties over generated documents: whatever a client sends, a
body is either accepted whole or refused naming where the trouble is."""

import math
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.input_guard import (
    MAX_JSON_DEPTH,
    BodyNotJson,
    check_query_string,
    load_json,
)
from fleet.errors import InvalidParameter

# Text that may or may not carry NUL and other control characters.
texts = st.text(alphabet=st.characters(codec="utf-8", min_codepoint=0), max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


def nul_paths(value: Any, path: str = "body") -> list[str]:
    """Reference: the dotted paths of every key or string holding a NUL."""
    found: list[str] = []
    if isinstance(value, str) and "\x00" in value:
        found.append(path)
    elif isinstance(value, dict):
        for key, item in value.items():
            child = key if path == "body" else f"{path}.{key}"
            if "\x00" in key:
                found.append(child)
            found.extend(nul_paths(item, child))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(nul_paths(item, f"{path}[{index}]"))
    return found


@given(json_values)
def test_a_body_is_refused_exactly_when_it_holds_a_nul_and_the_error_names_it(value):
    paths = nul_paths(value)
    if not paths:
        assert load_json(orjson.dumps(value)) == value
        return
    with pytest.raises(InvalidParameter) as refused:
        load_json(orjson.dumps(value))
    assert refused.value.code == 1001
    assert refused.value.details["field"] in paths


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
@given(value=json_values)
def test_non_finite_numbers_anywhere_are_not_json(token, value):
    body = orjson.dumps({"data": [value, {"deep": "__X__"}]}).replace(b'"__X__"', token.encode())
    with pytest.raises(BodyNotJson):
        load_json(body)


@given(st.sampled_from(["\\ud800", "\\udfff", "a\\ud83d", "\\ude00b"]))
def test_lone_surrogates_are_not_json(escape):
    with pytest.raises(BodyNotJson):
        load_json(('{"message": "' + escape + '"}').encode())


@given(st.integers(min_value=1, max_value=3 * MAX_JSON_DEPTH), st.booleans())
def test_nesting_is_refused_past_the_depth_limit(depth, as_objects):
    body = ('{"a":' * depth + "1" + "}" * depth) if as_objects else "[" * depth + "]" * depth
    if depth <= MAX_JSON_DEPTH:
        load_json(body.encode())
    else:
        with pytest.raises(InvalidParameter) as refused:
            load_json(body.encode())
        assert refused.value.details["reason"] == "too_deep"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_number_passes(number):
    assert math.isfinite(load_json(orjson.dumps({"n": number}))["n"])


@given(st.dictionaries(texts, texts, max_size=4))
def test_a_query_string_is_refused_exactly_when_a_name_or_value_holds_a_nul(params):
    query = "&".join(f"{quote(k)}={quote(v)}" for k, v in params.items())
    has_nul = any("\x00" in k or "\x00" in v for k, v in params.items())
    if has_nul:
        with pytest.raises(InvalidParameter):
            check_query_string(query)
    else:
        check_query_string(query)
