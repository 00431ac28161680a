"""Staff edit fault and runbook content in the admin as lines and YAML, never raw JSON,
and the admin refuses what the loader would refuse."""

import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model

from diagnostics.models import FaultCode, Runbook
from diagnostics.services.loader import digest, load_faults, load_runbooks

pytestmark = pytest.mark.django_db

FAULT_URL = "/admin/diagnostics/faultcode/F-0101/change/"
RUNBOOK_URL = "/admin/diagnostics/runbook/charger-faulting-on-power-up/change/"


@pytest.fixture
def staff(client):
    load_faults()
    load_runbooks()
    get_user_model().objects.create_superuser("root", "", "pw-for-tests-1")
    client.login(username="root", password="pw-for-tests-1")
    return client


def form_values(page: str) -> dict[str, str]:
    """What the change form would post back unchanged: its inputs, selects and textareas."""
    values = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page):
        values[name] = unescape(value)
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        # Django's textarea template puts a newline after the opening tag.
        values[name] = unescape(body).removeprefix("\n")
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        selected = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        values[name] = unescape(selected.group(1)) if selected else ""
    values.pop("csrfmiddlewaretoken", None)
    return values


def test_lists_are_lines_and_nested_content_is_yaml(staff):
    page = staff.get(FAULT_URL).content.decode()
    values = form_values(page)
    assert values["symptoms"].splitlines()[0].startswith("Voltage is still present")
    assert values["diagnostic_steps"].startswith("- text: ")
    assert "contactor_life_cycles_ac: 60000" in values["thresholds"]
    for name in ("symptoms", "diagnostic_steps", "thresholds", "related_telemetry"):
        assert not values[name].lstrip().startswith(("[", "{")), name


@pytest.mark.parametrize("url, model, key", [
    (FAULT_URL, FaultCode, "F-0101"),
    (RUNBOOK_URL, Runbook, "charger-faulting-on-power-up"),
])  # fmt: skip
def test_saving_unchanged_keeps_the_content_exactly(staff, url, model, key):
    before = model.objects.get(pk=key)
    response = staff.post(url, form_values(staff.get(url).content.decode()))
    assert response.status_code == 302, response.content.decode()[:2000]
    after = model.objects.get(pk=key)
    assert after.content() == before.content()
    # So the loader still sees the row as its own and keeps updating it from the file.
    assert digest(after.content()) == after.loaded_digest


def test_an_edit_is_stored_as_structured_content(staff):
    values = form_values(staff.get(FAULT_URL).content.decode())
    values["symptoms"] += "\n\n  The charger smells of burnt plastic.  \n"
    values["thresholds"] = "contactor_life_cycles_ac: 55000\ncontactor_life_cycles_dc: 100000\n"
    assert staff.post(FAULT_URL, values).status_code == 302
    fault = FaultCode.objects.get(code="F-0101")
    assert fault.symptoms[-1] == "The charger smells of burnt plastic."
    assert "" not in fault.symptoms
    assert fault.thresholds == {
        "contactor_life_cycles_ac": 55000,
        "contactor_life_cycles_dc": 100000,
    }
    # An admin edit wins over the file: a reload leaves it in place.
    load_faults()
    assert FaultCode.objects.get(code="F-0101").thresholds["contactor_life_cycles_ac"] == 55000


def test_the_firmware_statement_is_edited_as_words_in_the_admin(staff):
    values = form_values(staff.get(FAULT_URL).content.decode())
    assert "260420.0107" in values["firmware_statement"]
    values["firmware_statement"] = "No issue known from 260501.0001 onwards.\r\nOlder: ask Tellus."
    assert staff.post(FAULT_URL, values).status_code == 302
    fault = FaultCode.objects.get(code="F-0101")
    assert fault.firmware_statement == "No issue known from 260501.0001 onwards. Older: ask Tellus."
    load_faults()  # an admin edit wins over the file
    assert FaultCode.objects.get(code="F-0101").firmware_statement.startswith("No issue known")


@pytest.mark.parametrize("field, text, message", [
    ("diagnostic_steps", "- text: [unclosed", "Not valid YAML"),
    ("diagnostic_steps", "a: &x [1]\nb: *x\n", "aliases"),
    ("diagnostic_steps", "just a sentence", "Must be a list"),
    ("diagnostic_steps", "- 42\n", "diagnostic step"),
    ("diagnostic_steps", "- {text: Look, on_site: maybe}\n", "on_site"),
    ("thresholds", "- 1\n", "Must be a mapping"),
    ("thresholds", "limit_c: .nan\n", "finite"),
    ("thresholds", "limit_c: hot\n", "number"),
    ("known_firmware_issues", "- {summary: no fix yet}\n", "fixed_in"),
    ("symptoms", "bad\x00line", "Null characters"),
    ("firmware_statement", "x" * 501, "longer than 500"),
])  # fmt: skip
def test_bad_fault_content_is_refused_and_changes_nothing(staff, field, text, message):
    before = FaultCode.objects.get(code="F-0101").content()
    values = form_values(staff.get(FAULT_URL).content.decode())
    values[field] = text
    response = staff.post(FAULT_URL, values)
    assert response.status_code == 200
    assert message in unescape(response.content.decode())
    assert FaultCode.objects.get(code="F-0101").content() == before


GOTO_NOWHERE = """\
- key: a
  title: A
  branches:
  - when: {outcome: pass}
    then: {action: goto, step: nowhere}
"""


@pytest.mark.parametrize("field, text, message", [
    ("steps", "", "required"),
    ("steps", "- just a string\n", "step"),
    ("steps", GOTO_NOWHERE, "goto to unknown step"),
    ("steps", "- key: a\n  title: A\n  check: {name: no_such_check}\n", "unknown check"),
    ("steps", "- key: a\n  title: A\n  branches: [oops]\n", "branch"),
    ("suggest_when", "- {open_alert: [no_such_detector], score: 3}\n", "unknown value"),
    ("suggest_when", "- {connector_state: [preparing], score: 99}\n", "score"),
])  # fmt: skip
def test_bad_runbook_content_is_refused_and_changes_nothing(staff, field, text, message):
    before = Runbook.objects.get(slug="charger-faulting-on-power-up").content()
    values = form_values(staff.get(RUNBOOK_URL).content.decode())
    values[field] = text
    response = staff.post(RUNBOOK_URL, values)
    assert response.status_code == 200
    assert message in unescape(response.content.decode())
    assert Runbook.objects.get(slug="charger-faulting-on-power-up").content() == before
