"""Hostile input as raw bytes, on every operation we serve, against the live server.

Schemathesis generates what a JSON encoder can write; the hostile classes include
what only a socket can carry (NaN and Infinity tokens, 1e999, lone surrogates, raw
control bytes, 200 and 5,000 levels of nesting). For each operation, starting from a
valid request, one field (a body leaf, the whole body, an unknown field, a query or path
parameter, the Authorization, X-Timestamp or Content-Type header) gets a hostile value:
systematically (every field, one value of every class) and by Hypothesis (any field,
any value, shrunk on failure). The raw bytes go out with httpx, and the test asserts:

- never a 5xx;
- the answer has the operation's shape: the v1 envelope with a code of the table and
  the matching HTTP status, or the legacy shapes on /v1/cp and /v1/customer;
- values the input gate refuses everywhere (NUL, non-finite tokens, bad escapes, too
  deep) are refused with 1001, whatever field they are in; a hostile Authorization is
  401, and so is a hostile X-Timestamp where signatures are checked;
- a refused request stored nothing (row counts of every written table unchanged).
"""

import json
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.answers import check_shape
from tests.fuzz.hostile import (
    ALWAYS_REFUSED,
    DEEP_NESTING,
    HOSTILE_HEADER_VALUES,
    query_values,
    raw_values,
)
from tests.fuzz.stats import STATS, trace
from tests.fuzz.templates import (
    UNKNOWN_FIELD,
    Slot,
    Template,
    raw_body,
    signed,
    slots,
    template_labels,
    templates,
)

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 15
SUITE = "raw"


@pytest.fixture(scope="module")
def operations(world) -> dict[str, Template]:
    return {template.label: template for template in templates(world)}


@pytest.fixture(scope="module")
def client(tellus_server):
    with httpx.Client(base_url=tellus_server.url, timeout=30) as http:
        yield http


def _our_operations(client) -> set[str]:
    document = client.get("/v1/openapi.json").json()
    return {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_operation_of_our_document_has_a_template(client, operations):
    documented = _our_operations(client)
    assert set(operations) == documented
    STATS.declare(SUITE, len(documented))


def send(client, world, template: Template, slot: Slot | None, value) -> httpx.Response:
    """The template's request with `value` in `slot`: raw JSON text in the body, text in
    a query or path parameter, bytes in a header."""
    path_params = dict(template.path_params)
    query = dict(template.query)
    headers = {**world.headers_for(template.path), "Content-Type": "application/json"}
    content = None if template.body is None else json.dumps(template.body).encode()
    if slot is not None and slot.where == "path":
        path_params[slot.name[0]] = value
    elif slot is not None and slot.where == "query":
        query[slot.name[0]] = value
    elif slot is not None and slot.where == "header":
        headers[slot.name[0]] = value
        if slot.name[0] == "X-Timestamp":
            headers["X-Signature"] = "0" * 64
    elif slot is not None:
        content = raw_body(template, slot, value)
    path = template.path
    for name, text in path_params.items():
        path = path.replace("{" + name + "}", quote(text, safe=""))
    request = client.build_request(
        template.method, path, params=query, content=content, headers=headers
    )
    response = client.send(request)
    STATS.record(SUITE, template.label, response.status_code)
    trace(SUITE, template.label, request, response.status_code, response.content)
    return response


def _classes_for(slot: Slot) -> dict[str, list]:
    if slot.where == "body":
        pairs = raw_values()
    elif slot.where == "header":
        pairs = HOSTILE_HEADER_VALUES
    else:
        pairs = query_values()
    classes: dict[str, list] = {}
    for hostile_class, value in pairs:
        classes.setdefault(hostile_class, []).append(value)
    return classes


def _expected_status(template: Template, slot: Slot, hostile_class: str) -> int | None:
    """The status the request must get whatever else happens, if there is one."""
    if slot.where == "body":
        return 400 if hostile_class in ALWAYS_REFUSED else None
    if slot.where in {"query", "path"}:
        return 400 if hostile_class == "nul string" else None
    if slot.name[0] == "Authorization":
        return 401  # never a valid token
    if slot.name[0] == "X-Timestamp" and signed(template):
        return 401  # the signature sent with it is never valid
    return None


def _not_a_field_value(value: bytes) -> bool:
    return any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in value)


def attempt(client, world, counts, template, slot, hostile_class, value) -> str | None:
    """Send one hostile request; the broken promise, if any, as text (with the server's
    log of the request when it failed with a 5xx)."""
    before = counts()
    log_offset = world.server.log_size()
    response = send(client, world, template, slot, value)
    if response.status_code >= 500:
        print(f"server log:\n{world.server.log_since(log_offset)[-6000:]}")
    where = f"{template.label} {slot} <- {hostile_class} {value[:80]!r}"
    if slot.where == "header" and _not_a_field_value(value):
        # Control bytes are not allowed in an HTTP header: the HTTP server refuses the
        # request itself (400, not our envelope) before the application sees it.
        if response.status_code == 400 and counts() == before:
            return None
        return f"{where}: {response.status_code} {response.text[:300]} (malformed HTTP accepted)"
    try:
        check_shape(template, response)
        expected = _expected_status(template, slot, hostile_class)
        if expected is not None:
            assert response.status_code == expected, f"expected {expected}"
        if response.status_code >= 400:
            after = counts()
            assert after == before, f"stored on refusal: {before} -> {after}"
    except AssertionError as failure:
        return f"{where}: {response.status_code} {response.text[:300]} ({failure})"
    return None


# Collected before the server exists, so listed from templates built on a placeholder
# fleet; test_every_operation_of_our_document_has_a_template keeps the list complete.
@pytest.mark.parametrize("label", template_labels())
def test_every_field_with_every_hostile_class(label, operations, client, world, counts):
    """Systematic: each field of the operation gets one value of each hostile class (the
    value rotating through the class from field to field)."""
    template = operations[label]
    failures = []
    for index, slot in enumerate(slots(template)):
        for hostile_class, values in _classes_for(slot).items():
            value = values[index % len(values)]
            failure = attempt(client, world, counts, template, slot, hostile_class, value)
            if failure:
                failures.append(failure)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("label", template_labels())
def test_hostile_values_anywhere(label, operations, client, world, counts):
    """Hypothesis: any field, any hostile value, shrunk to the simplest failing one."""
    template = operations[label]
    choices = slots(template)
    if not choices:
        return  # nothing to vary; the sweep and schemathesis cover the bare request

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data):
        slot = data.draw(st.sampled_from(choices), label="slot")
        classes = _classes_for(slot)
        hostile_class = data.draw(st.sampled_from(sorted(classes)), label="class")
        value = data.draw(st.sampled_from(classes[hostile_class]), label="value")
        failure = attempt(client, world, counts, template, slot, hostile_class, value)
        assert failure is None, failure

    run()


@pytest.mark.parametrize("depth_index", range(len(DEEP_NESTING)))
def test_deep_nesting_in_every_body(depth_index, operations, client, world, counts):
    """Every operation with a body, nested 33, 200 and 5,000 levels in an unknown field:
    refused with 1001, nothing stored."""
    for template in operations.values():
        if not isinstance(template.body, dict):
            continue
        before = counts()
        response = send(
            client, world, template, Slot("body", (UNKNOWN_FIELD,)), DEEP_NESTING[depth_index]
        )
        answer = check_shape(template, response)
        assert response.status_code == 400, (template.label, answer)
        assert counts() == before, template.label
