"""The escalation checklist, item by item: what each hands over, gathered from one
charger's faults, telemetry, charging records and the run itself."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.models import FaultCode, StepResult
from diagnostics.services.loader import load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from diagnostics.services.runbooks.checklist import CHECKLIST, checklist_item, checklist_words
from fleet.actors import Actor
from fleet.models import ChargingRecord, DeviceEvent, TelemetrySample
from fleet.services import provisioning

pytestmark = pytest.mark.django_db
ENGINEER = Actor("user", username="field.engineer")


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


@pytest.fixture
def world(make_client, assigned_device):
    """A DC charger on firmware 3.0.1 with two faults, a status event, hot and cool
    telemetry, a charging record and a run of one step result."""
    device = assigned_device(
        make_client("Acme Charging")[0], model="TP-DC180", firmware_version="3.0.1"
    )
    now = timezone.now()
    event = dict(device=device, connector_id=1)
    older_fault = DeviceEvent.objects.create(
        **event, event_type="fault", fault_code="F-0203", timestamp=now - timedelta(minutes=3)
    )
    status = DeviceEvent.objects.create(
        **event, event_type="status_change", timestamp=now - timedelta(minutes=2)
    )
    last_fault = DeviceEvent.objects.create(
        **event, event_type="fault", fault_code="F-0421", timestamp=now - timedelta(minutes=1)
    )
    sample = dict(device=device, connector_id=1, state="charging", energy_delivered=3.0)
    hot = TelemetrySample.objects.create(
        **sample, timestamp=last_fault.timestamp - timedelta(seconds=30),
        voltage=400.0, current=50.0, power=20.0, temperature=80.5,
        component_health={"fan": "ok"},
    )  # fmt: skip
    TelemetrySample.objects.create(  # under the DC limit, and outside the 60 s window
        **sample, timestamp=last_fault.timestamp - timedelta(seconds=90),
        voltage=400.0, current=40.0, power=16.0, temperature=70.0,
    )  # fmt: skip
    ChargingRecord.objects.create(
        device=device, record_id="rec-1", connector_id=1,
        start_time=now - timedelta(hours=3), end_time=now - timedelta(hours=2),
        energy=20.0, max_power=50.0, avg_power=40.0, meter_start=0.0, meter_end=20.0,
        vehicle_info={"make": "Volta", "model": "E1"}, upload_digest="d",
    )  # fmt: skip
    run = engine.start(ENGINEER, device, "charger-faulting-on-power-up")
    engine.verify(ENGINEER, run)
    return {
        "run": run,
        "device": device,
        "faults": [last_fault, older_fault],
        "status": status,
        "hot": hot,
    }


def as_event(event: DeviceEvent) -> dict:
    return {
        "event_type": event.event_type,
        "fault_code": event.fault_code or None,
        "connector_id": 1,
        "timestamp": event.timestamp.isoformat(),
        "source": "charger",
    }


def test_each_item_of_the_checklist(world):
    run, hot = world["run"], world["hot"]
    last_fault, older_fault = world["faults"]
    contactor = FaultCode.objects.get(code="F-0421").known_firmware_issues[0]
    expected = {
        "event_log": [as_event(last_fault), as_event(older_fault)],
        "firmware": {
            "firmware_version": "3.0.1",
            "model": "TP-DC180",
            "known_issues": [
                {
                    "code": "F-0421",
                    "assessment": [
                        {
                            "summary": contactor["summary"],
                            "firmware_version": "3.0.1",
                            "affected": True,
                            "fixed_in": "3.0.3",
                            "affected_from": "3.0.0",
                            "affected_to": "3.0.2",
                        }
                    ],
                }
            ],
        },
        "thermal_anomalies": {
            "limit_c": 75.0,
            "samples": [
                {"connector_id": 1, "timestamp": hot.timestamp.isoformat(), "temperature": 80.5}
            ],
        },
        # No command: the trail starts an hour before the run, oldest first.
        "event_trail": [as_event(older_fault), as_event(world["status"]), as_event(last_fault)],
        "inverter_telemetry_60s": [
            {
                "timestamp": hot.timestamp.isoformat(),
                "power": 20.0,
                "voltage": 400.0,
                "current": 50.0,
                "component_health": {"fan": "ok"},
            }
        ],
        "vehicle": {
            "from_last_record": {"make": "Volta", "model": "E1"},
            "to_fill_in": "make, model, firmware",
        },
        "connector_photos": {"to_attach": "pictures of the connector pins"},
        "runbook_reference": {
            "runbook": "charger-faulting-on-power-up",
            "title": run.runbook.title,
            "steps": [
                {
                    "step_key": "supply-power",
                    "outcome": StepResult.Outcome.UNKNOWN,
                    "choice": "",
                    "note": "",
                    "by": ENGINEER.label,
                }
            ],
        },
    }
    assert set(expected) == set(CHECKLIST)
    assert {item: checklist_item(item, run) for item in CHECKLIST} == expected


def test_an_ac_charger_is_judged_by_the_ac_limit(make_client, assigned_device):
    device = assigned_device(make_client("Acme Charging")[0], model="TP-AC22")
    TelemetrySample.objects.create(
        device=device, connector_id=1, timestamp=timezone.now(), state="charging",
        voltage=230.0, current=32.0, power=22.0, energy_delivered=1.0, temperature=66.0,
    )  # fmt: skip
    run = engine.start(ENGINEER, device, "charger-faulting-on-power-up")
    thermal = checklist_item("thermal_anomalies", run)
    assert thermal["limit_c"] == 65.0
    assert [s["temperature"] for s in thermal["samples"]] == [66.0]


def test_an_unknown_item_is_handed_over_empty_and_named_as_it_is(world):
    assert checklist_item("tea_leaves", world["run"]) is None
    assert checklist_words("tea_leaves") == "tea_leaves"
    assert checklist_words("event_log") == "the charger's last 10 fault events"


def test_escalation_gathers_the_runbooks_checklist(world):
    run = engine.escalate(ENGINEER, world["run"], note="over to the manufacturer")
    assert list(run.escalation["checklist"]) == run.runbook.escalation_checklist
    assert run.escalation["checklist"]["event_log"] == [
        as_event(event) for event in world["faults"]
    ]


def test_an_escalation_hands_over_nothing_from_the_chargers_previous_operator(
    world, make_client, site_for
):
    """A charger's history stays with the operator it happened under: the new owner's
    escalation carries none of the previous owner's faults, readings or records."""
    device = world["device"]
    rival, _ = make_client("Rival Energy")
    provisioning.assign_device(Actor.cli(), device.device_id, site_for(rival).site_id)
    device.refresh_from_db()
    ours = DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="fault", fault_code="F-0411",
        timestamp=timezone.now(),
    )  # fmt: skip
    run = engine.start(Actor.for_client(rival), device, "charger-faulting-on-power-up")
    run = engine.escalate(Actor.for_client(rival), run, note="on site")
    items = run.escalation["checklist"]
    assert [e["fault_code"] for e in items["event_log"]] == [ours.fault_code]
    assert items["thermal_anomalies"]["samples"] == []
    assert {i["code"] for i in items["firmware"]["known_issues"]} == set()  # F-0421 was Acme's


def test_the_v2g_checklist_of_a_new_owner_has_no_trail_readings_or_vehicle_of_the_old(
    world, make_client, site_for
):
    device = world["device"]
    rival, _ = make_client("Rival Energy")
    provisioning.assign_device(Actor.cli(), device.device_id, site_for(rival).site_id)
    device.refresh_from_db()
    run = engine.start(Actor.for_client(rival), device, "v2g-discharge-not-flowing")
    run = engine.escalate(Actor.for_client(rival), run)
    items = run.escalation["checklist"]
    assert items["event_trail"] == []
    assert items["inverter_telemetry_60s"] == []
    assert items["vehicle"]["from_last_record"] is None
