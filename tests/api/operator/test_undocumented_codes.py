"""The fault dictionary's API extensions: undocumented codes carry what the fault
dictionary's "Unknown codes" section says Tellus asks for (the full event payload, the
device_id and its firmware_version, the time range, concurrent telemetry) as extension
fields beside the existing ones, every report is paged, and an operator only ever sees its
own; a dictionary entry carries its scoped firmware statement."""

from datetime import UTC, datetime, timedelta

import pytest

from diagnostics.services.loader import load_faults
from fleet.actors import Actor
from fleet.models import DeviceEvent, FirmwareUpdate, TelemetrySample
from fleet.services import provisioning

pytestmark = pytest.mark.django_db
CODE = "F-9999"


@pytest.fixture
def world(acme, rival, assigned_device) -> dict:
    load_faults()
    return {
        "ours": assigned_device(acme.client, firmware_version="3.0.1"),
        "theirs": assigned_device(rival.client),
    }


def occurrence(device, minutes_ago: float, code: str = CODE, **data) -> DeviceEvent:
    return DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="fault", fault_code=code,
        timestamp=datetime.now(UTC) - timedelta(minutes=minutes_ago),
        data={"fault_code": code, **data},
    )  # fmt: skip


def test_undocumented_codes_keep_their_fields_and_add_the_latest_reports(api, acme, world):
    ours = world["ours"]
    first = occurrence(ours, 90, fault_message="one", details={"n": 1})
    occurrence(ours, 70, fault_message="two")
    occurrence(ours, 60, fault_message="three")
    last = occurrence(ours, 10, fault_message="four", details={"n": 4}, vendor_extra="kept")
    TelemetrySample.objects.create(
        device=ours, connector_id=1, timestamp=last.timestamp - timedelta(seconds=30),
        state="fault", voltage=0.0, current=0.0, power=0.0, energy_delivered=2.0,
        temperature=48.5,
    )  # fmt: skip
    (row,) = api.get("/v1/operator/faults/undocumented", acme.token).json()["data"]
    assert {k: row[k] for k in ("fault_code", "count", "devices")} == {
        "fault_code": CODE, "count": 4, "devices": [ours.device_id],
    }  # fmt: skip
    assert row["first_seen"].startswith(first.timestamp.strftime("%Y-%m-%dT%H:%M:%S"))
    assert row["last_seen"].startswith(last.timestamp.strftime("%Y-%m-%dT%H:%M:%S"))
    newest, *older = row["latest_occurrences"]  # the newest three: "one" is left out
    assert [o["data"]["fault_message"] for o in older] == ["three", "two"]
    assert newest["data"] == last.data  # the payload whole, as sent
    assert (newest["device_id"], newest["sn"]) == (ours.device_id, ours.sn)
    assert newest["firmware_version"] == "3.0.1"
    assert newest["claimed_timestamp"] is None
    (reading,) = newest["telemetry"]
    assert reading["offset_seconds"] == -30.0
    assert (reading["state"], reading["voltage"], reading["temperature"]) == ("fault", 0.0, 48.5)


def test_every_report_of_an_undocumented_code_is_paged_newest_first(api, acme, world):
    ours = world["ours"]
    for n in range(5):
        occurrence(ours, n + 1, fault_message=f"report {n}")
    url = f"/v1/operator/faults/undocumented/{CODE}/occurrences"
    page = api.get(url, acme.token, size=2, page=2).json()["data"]
    assert (page["total"], page["page"], page["size"]) == (5, 2, 2)
    assert [o["data"]["fault_message"] for o in page["items"]] == ["report 2", "report 3"]


def test_the_firmware_of_a_report_is_the_one_the_charger_ran_then(api, acme, world):
    ours = world["ours"]
    occurrence(ours, 60, fault_message="before")
    FirmwareUpdate.objects.create(
        device=ours, firmware_version="3.0.3", previous_version="3.0.1", status="success"
    )
    ours.firmware_version = "3.0.3"
    ours.save()
    occurrence(ours, 0, fault_message="after")
    items = api.get(f"/v1/operator/faults/undocumented/{CODE}/occurrences", acme.token).json()[
        "data"
    ]["items"]
    assert [(o["data"]["fault_message"], o["firmware_version"]) for o in items] == [
        ("after", "3.0.3"),
        ("before", "3.0.1"),
    ]


def test_another_operators_reports_never_show(api, acme, rival, world, site_for):
    ours, theirs = world["ours"], world["theirs"]
    occurrence(ours, 60, fault_message="ours")
    occurrence(theirs, 50, fault_message="RIVAL-SECRET")
    provisioning.assign_device(Actor.platform(), ours.device_id, site_for(rival.client).site_id)
    occurrence(ours, 10, fault_message="RIVAL-AFTER-HANDOVER")
    listed = api.get("/v1/operator/faults/undocumented", acme.token).json()["data"]
    paged = api.get(f"/v1/operator/faults/undocumented/{CODE}/occurrences", acme.token).json()
    for answer in (listed, paged):
        assert "RIVAL" not in str(answer) and theirs.device_id not in str(answer)
    assert [o["data"]["fault_message"] for o in paged["data"]["items"]] == ["ours"]
    assert [o["data"]["fault_message"] for o in listed[0]["latest_occurrences"]] == ["ours"]
    for_rival = api.get(f"/v1/operator/faults/undocumented/{CODE}/occurrences", rival.token)
    assert [o["data"]["fault_message"] for o in for_rival.json()["data"]["items"]] == [
        "RIVAL-AFTER-HANDOVER",
        "RIVAL-SECRET",
    ]


def test_a_documented_code_has_no_undocumented_reports(api, acme, world):
    occurrence(world["ours"], 5, code="F-0421")
    response = api.get("/v1/operator/faults/undocumented/F-0421/occurrences", acme.token)
    assert response.status_code == 404 and response.json()["code"] == 3001


def test_f0101_states_its_firmware_scope_and_plain_entries_state_none(api, acme, world):
    f0101 = api.get("/v1/operator/faults/F-0101", acme.token).json()["data"]
    assert f0101["known_firmware_issues"] == []
    assert "from version 260420.0107 onwards" in f0101["firmware_statement"]
    assert "older builds" in f0101["firmware_statement"]
    f0203 = api.get("/v1/operator/faults/F-0203", acme.token).json()["data"]
    assert "firmware_statement" not in f0203
    listed = api.get("/v1/operator/faults", acme.token, size=100).json()["data"]["items"]
    assert [f["code"] for f in listed if "firmware_statement" in f] == ["F-0101"]
