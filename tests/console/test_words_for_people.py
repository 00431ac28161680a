"""Every page speaks words for people: no spec or vendor-reconciliation text, no raw keys
of detectors, checks or patterns, no actor labels (`user:…`, `client:…`), no step keys
where a step has a title, no doubled full stops, correct plurals; every time with its zone
and every measured value with its unit.

The pages are rendered with realistic data: a charger running hot with repeated F-0421
faults and the alerts the detectors open for them, a charging record, commands from a
person and an API client, and runbook runs (one escalated) with checks and moves."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from diagnostics.checks import run_check
from diagnostics.models import Alert, Runbook, RunbookExecution
from diagnostics.services import detectors
from diagnostics.services.loader import load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from diagnostics.services.runbooks.suggestions import Signals, rank
from fleet.actors import Actor
from fleet.models import DeviceEvent, TelemetrySample
from fleet.services.commands import queue_command
from fleet.services.records import store_charging_record
from fleet.services.telemetry import record_telemetry_orm

pytestmark = pytest.mark.django_db

POWER_UP = "charger-faulting-on-power-up"
# What a person must never read on a page.
DEVELOPER_TEXT = [
    r"extensions item",
    r"version 1\.3",
    r"\bv1\.3\b",
    r"Some vendor text",
    r"known-issues range",
    r"\buser:",
    r"\bclient:",
    r"\bcli:",
    r"_cluster\b",
    r"\bover_temperature\b",
    r"\brepeat_fault\b",
    r"\bfault_pattern\b",
    r"\bvoltage_in_envelope\b",
    r"\bsigned in as\b",
    r"\b1 fault events\b",
    r"(?<![.…])\.\.(?![.…])",
]
# Step keys where the step has a title; the audit log quotes a change's stored fields as
# they are (that is its job), so it is not held to these.
STEP_KEYS = [r"\bfault-log\b", r"\bfirmware-cluster\b", r"\bsupply-power\b"]


class VisibleText(HTMLParser):
    """The text a reader sees (no tags, attributes, scripts or styles)."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def reading(**fields) -> dict:
    return {
        "timestamp": timezone.now() - timedelta(seconds=5),
        "connector_id": 1,
        "state": "charging",
        "voltage": 231.0,
        "current": 32.0,
        "power": 22.1,
        "energy_delivered": 4.25,
        "soc": 57,
        "temperature": 86.5,
        "phase_details": None,
        "component_health": None,
        **fields,
    }


def faults(device, code, count):
    for minute in range(count):
        DeviceEvent.objects.create(
            device=device, connector_id=1, event_type="fault", fault_code=code,
            timestamp=timezone.now() - timedelta(minutes=minute + 1),
        )  # fmt: skip


@pytest.fixture
def world(make_client, site_for, assigned_device, console_user, signed_in):
    load_faults()
    load_runbooks()
    client, _ = make_client("Acme Charging")
    depot = site_for(client, "Acme Depot", address="1 Quay Street", power_capacity=150.0)
    charger = assigned_device(client, depot, model="TP-DC180", firmware_version="3.0.1")
    peer = assigned_device(client, site_for(client, "Far Yard"), firmware_version="3.0.1")
    record_telemetry_orm(charger.device_id, reading(), timezone.now())
    faults(charger, "F-0421", 3)
    faults(peer, "F-0421", 2)
    faults(assigned_device(client, depot, firmware_version="3.0.1"), "F-0421", 1)
    detectors.run_detectors(timezone.now())
    assert Alert.objects.filter(detector="over_temperature").exists()
    # A code the dictionary lacks, reported just after the reading above.
    DeviceEvent.objects.create(
        device=charger, connector_id=1, event_type="fault", fault_code="E-77",
        timestamp=TelemetrySample.objects.latest("timestamp").timestamp + timedelta(seconds=3),
        data={"fault_code": "E-77", "fault_message": "Relay watchdog", "details": {"board": 2}},
    )  # fmt: skip
    start = timezone.now() - timedelta(hours=2)
    store_charging_record(
        charger.device_id,
        {"record_id": "cdr-1", "connector_id": 1, "start_time": start,
         "end_time": start + timedelta(minutes=50), "energy": 18.4, "max_power": 22.1,
         "avg_power": 21.0, "meter_start": 100.0, "meter_end": 118.4,
         "stop_reason": "ev_disconnected"},
    )  # fmt: skip
    queue_command(Actor.for_client(client), charger, "start_charging", {})

    admin = signed_in("Acme Charging", "admin", username="erin")
    # A run carried by a person: a check, its route, a step done by hand, then escalated.
    admin.post(f"/devices/{charger.device_id}/runs/", {"runbook": POWER_UP})
    run = RunbookExecution.objects.get()
    for action in ("verify", "continue", "verify", "continue"):
        run.refresh_from_db()
        admin.post(f"/runs/{run.run_id}/step/", {"action": action, "step": run.current_step})
    admin.post(f"/runs/{run.run_id}/escalate/", {"note": "Needs the vendor"})
    # A run an API client started.
    other = Runbook.objects.exclude(slug=POWER_UP).first()
    by_client = engine.start_run(Actor.for_client(client), charger, other.slug)
    return {
        "browser": admin,
        "charger": charger,
        "run": run,
        "by_client": by_client,
        "api_client": client,
    }


def pages(world) -> list[str]:
    charger, run = world["charger"], world["run"]
    return [
        "/",
        f"/sites/{charger.site_id}/",
        f"/devices/{charger.device_id}/",
        "/runs/",
        f"/runs/{run.run_id}/",
        f"/runs/{run.run_id}/escalation/",
        f"/runs/{world['by_client'].run_id}/",
        "/runbooks/",
        *(f"/runbooks/{slug}/" for slug in Runbook.objects.values_list("slug", flat=True)),
        "/faults/",
        "/faults/F-0421/",
        "/faults/F-0203/",
        "/faults/undocumented/",
        "/faults/undocumented/E-77/",
        "/commands/",
        "/records/",
        "/energy/",
        "/audit/",
        "/people/",
        "/account/",
    ]


def test_no_page_shows_developer_text(world):
    browser = world["browser"]
    for url in pages(world):
        response = browser.get(url)
        assert response.status_code == 200, url
        text = visible(response.content.decode())
        for pattern in DEVELOPER_TEXT + (STEP_KEYS if url != "/audit/" else []):
            found = re.search(pattern, text)
            assert found is None, f"{url}: {text[max(0, found.start() - 60) : found.end() + 60]!r}"


def test_every_time_on_every_page_carries_its_zone(world):
    browser = world["browser"]
    for url in pages(world):
        html = browser.get(url).content.decode()
        for text in re.findall(r"<time\b[^>]*>([^<]*)</time>", html):
            assert re.search(r" (UTC|[A-Z]{2,5}|[+-]\d\d(\d\d)?)$", text), f"{url}: {text!r}"
        assert "Times in UTC" in html, url


def test_the_charger_page_puts_a_unit_on_every_value(world):
    charger = world["charger"]
    text = visible(world["browser"].get(f"/devices/{charger.device_id}/").content.decode())
    for value in ("22.1 kW", "231 V", "32.0 A", "4.25 kWh", "57 %", "86.5 °C", "18.40 kWh"):
        assert value in text, value


def test_an_undocumented_codes_page_puts_a_unit_on_every_reading(world):
    text = visible(world["browser"].get("/faults/undocumented/E-77/").content.decode())
    for value in ("231.0 V", "32.0 A", "22.10 kW", "86.5 °C", "3 s before"):
        assert value in text, value


def test_people_are_named_as_people(world):
    browser, run, client = world["browser"], world["run"], world["api_client"]
    run_page = visible(browser.get(f"/runs/{run.run_id}/").content.decode())
    assert "started by erin" in run_page
    client_run = visible(browser.get(f"/runs/{world['by_client'].run_id}/").content.decode())
    assert f"started by the API client {client.name}" in client_run
    commands = visible(browser.get("/commands/").content.decode())
    assert f"the API client {client.name}" in commands
    audit = browser.get("/audit/").content.decode()
    assert "<td>signed in</td>" in audit and "<td>user<br>erin</td>" in audit
    charger = world["charger"]
    assert f'<a href="/devices/{charger.device_id}/">{charger.sn}</a>' in audit


def test_a_run_reads_its_steps_checks_and_evidence_in_words_with_units(world):
    browser, run = world["browser"], world["run"]
    text = visible(browser.get(f"/runs/{run.run_id}/").content.decode())
    assert "Check the incoming supply" in text  # a step by its title
    escalation = visible(browser.get(f"/runs/{run.run_id}/escalation/").content.decode())
    assert "by erin at" in escalation
    # The check's evidence: the voltage with its unit, its time with the zone.
    assert re.search(r"\bvoltage 231 V\b", text)
    assert re.search(r"timestamp \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", text)


def test_runbooks_name_their_checks_and_alerts_in_words(world):
    browser = world["browser"]
    runbook = visible(browser.get(f"/runbooks/{POWER_UP}/").content.decode())
    assert "Automatic check supply voltage within the model's range" in runbook
    signals = Signals(open_alerts=frozenset({"firmware_cluster", "stuck_preparing"}))
    reasons = [reason for found in rank(Runbook.objects.all(), signals) for reason in found.reasons]
    assert "an open alert: same fault on one firmware" in reasons
    assert "an open alert: stuck in preparing" in reasons


def test_a_check_over_one_fault_says_one_fault_event(world):
    lone = world["charger"]
    DeviceEvent.objects.filter(device=lone).delete()
    faults(lone, "F-0411", 1)
    result = run_check("fault_pattern", lone)
    assert result.summary == "1 fault event; pattern: a single F-0411"


def test_the_known_issue_box_reads_as_advice_not_as_a_reconciliation(world):
    charger = world["charger"]
    text = visible(world["browser"].get(f"/devices/{charger.device_id}/").content.decode())
    assert "Known issue: F-0421: Firmware 3.0.0 to 3.0.2 mistimes" in text
    assert "vendor" not in text.lower()


def test_a_fault_entrys_thresholds_are_named_with_their_units(world):
    text = visible(world["browser"].get("/faults/F-0203/").content.decode())
    assert "Connector warning temperature, AC 65 °C" in text
    assert "connector_warning_temp_c_ac" not in text


def test_a_route_to_another_runbook_names_it_by_its_title(world):
    text = visible(world["browser"].get(f"/runbooks/{POWER_UP}/").content.decode())
    v2g = Runbook.objects.get(slug="v2g-discharge-not-flowing")
    assert (
        f"switch to the runbook “{v2g.title}”" in text and "v2g-discharge-not-flowing" not in text
    )
