"""An undocumented fault code's page: what the fault dictionary's "Unknown codes" section
says Tellus asks for about a code it lacks — the full event payload (fault_code,
fault_message, details), the charger and its firmware version, the time range of the
occurrences, and concurrent telemetry — for the operator's own reports only, with the
charger's input shown escaped and bounded, and as a JSON file to send."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from console.web.charger_text import json_text, message_text, visible
from console.web.views.faults import REPORTS_PER_PAGE, offset_words
from diagnostics.services.loader import load_faults
from fleet.actors import Actor
from fleet.models import Connector, Device, DeviceEvent, FirmwareUpdate, TelemetrySample
from fleet.services import provisioning

pytestmark = pytest.mark.django_db

ACME = "Acme Charging"
RIVAL = "Rival Energy"
CODE = "F-9999"
URL = f"/faults/undocumented/{CODE}/"


@pytest.fixture
def world(make_client, site_for, assigned_device) -> dict:
    """Acme's charger (serial SN-ACME-1, firmware 3.0.1) on its depot, and Rival's
    charger on its yard; the dictionary loaded (it lacks F-9999)."""
    load_faults()
    acme, _ = make_client(ACME)
    rival, _ = make_client(RIVAL)
    return {
        "acme": acme,
        "rival": rival,
        "ours": assigned_device(
            acme, site_for(acme, "Acme Depot"), sn="SN-ACME-1", firmware_version="3.0.1"
        ),
        "theirs": assigned_device(rival, site_for(rival, "Rival Yard"), sn="SN-RIVAL-1"),
    }


def occurrence(device, minutes_ago: float, connector_id: int = 1, code: str = CODE, **data):
    payload = {"fault_code": code, **data}
    return DeviceEvent.objects.create(
        device=device,
        connector_id=connector_id,
        event_type="fault",
        fault_code=code,
        timestamp=timezone.now() - timedelta(minutes=minutes_ago),
        data=payload,
    )


def sample(device, at, connector_id: int = 1, **values) -> TelemetrySample:
    fields = {"state": "charging", "voltage": 398.5, "current": 31.2, "power": 12.44}
    fields.update(values)
    return TelemetrySample.objects.create(
        device=device, connector_id=connector_id, timestamp=at, energy_delivered=1.0, **fields
    )


def upgraded(device, version: str, previous: str, minutes_ago: float) -> None:
    update = FirmwareUpdate.objects.create(
        device=device, firmware_version=version, previous_version=previous, status="success"
    )
    FirmwareUpdate.objects.filter(pk=update.pk).update(
        updated_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


# --- What Tellus asks for -----------------------------------------------------------------


def test_each_report_shows_the_payload_the_charger_and_the_time_range(world, signed_in):
    ours = world["ours"]
    older = occurrence(ours, 120, fault_message="Relay board watchdog reset", details={"board": 3})
    newer = occurrence(ours, 30, fault_message="Relay board watchdog reset", details={"board": 4})
    response = signed_in(ACME).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["span"]["count"] == 2
    first, last = response.context["span"]["first_seen"], response.context["span"]["last_seen"]
    assert (first, last) == (older.timestamp, newer.timestamp)
    assert f'<dt>First seen</dt><dd><time datetime="{first:%Y-%m-%dT%H:%M:%S}' in html
    assert " UTC</time></dd>" in html  # times carry their zone
    assert html.count("<bdi>Relay board watchdog reset</bdi>") == 2
    newest, oldest = (item["report"] for item in response.context["reports"])
    assert newest.details == {"board": 4} and oldest.details == {"board": 3}
    assert '<pre class="charger-payload">{\n  &quot;board&quot;: 4\n}</pre>' in html
    assert f'<a href="/devices/{ours.device_id}/">SN-ACME-1</a>' in html
    assert "<dt>Firmware then</dt><dd>3.0.1</dd>" in html
    assert ours.device_id not in html.replace(f"/devices/{ours.device_id}/", "")  # no raw id


def test_each_report_has_the_firmware_the_charger_ran_at_that_moment(world, signed_in):
    ours = world["ours"]
    occurrence(ours, 300, fault_message="before the upgrade")
    upgraded(ours, "3.0.3", "3.0.1", minutes_ago=200)
    occurrence(ours, 100, fault_message="after the upgrade")
    Device.objects.filter(pk=ours.pk).update(firmware_version="3.0.3")
    reports = signed_in(ACME).get(URL).context["reports"]
    assert [(r["message"], r["report"].firmware_version) for r in reports] == [
        ("after the upgrade", "3.0.3"),
        ("before the upgrade", "3.0.1"),
    ]


def test_each_report_has_the_connectors_readings_within_five_minutes(world, signed_in):
    ours = world["ours"]
    event = occurrence(ours, 60, connector_id=1)
    moment = event.timestamp
    for seconds in (-400, -240, -5, 0, 30, 290, 310):  # 400 s and 310 s: outside the window
        sample(ours, moment + timedelta(seconds=seconds), temperature=41.5)
    sample(ours, moment + timedelta(seconds=10), connector_id=2)  # another connector
    response = signed_in(ACME).get(URL)
    (item,) = response.context["reports"]
    offsets = [row["sample"].offset.total_seconds() for row in item["telemetry"]]
    assert offsets == [-240, -5, 0, 30, 290]
    assert [row["offset"] for row in item["telemetry"]] == [
        "4 min before", "5 s before", "at the same second", "30 s after", "4 min 50 s after",
    ]  # fmt: skip
    html = response.content.decode()
    assert "<td>398.5 V</td><td>31.2 A</td><td>12.44 kW</td><td>41.5 °C</td>" in html


def test_the_readings_are_the_nearest_six_on_each_side(world, signed_in):
    ours = world["ours"]
    moment = occurrence(ours, 60).timestamp
    for seconds in range(-100, 101, 5):  # a sample every 5 s, as while charging
        sample(ours, moment + timedelta(seconds=seconds))
    (item,) = signed_in(ACME).get(URL).context["reports"]
    offsets = [row["sample"].offset.total_seconds() for row in item["telemetry"]]
    assert offsets == [-25, -20, -15, -10, -5, 0, 5, 10, 15, 20, 25, 30]


def test_a_whole_charger_report_has_the_readings_of_every_connector(world, signed_in):
    ours = world["ours"]
    moment = occurrence(ours, 60, connector_id=0).timestamp
    sample(ours, moment - timedelta(seconds=20), connector_id=1)
    sample(ours, moment - timedelta(seconds=10), connector_id=2)
    for number in (1, 2):  # as the charger's telemetry leaves them
        Connector.objects.get_or_create(device=ours, connector_id=number)
    response = signed_in(ACME).get(URL)
    (item,) = response.context["reports"]
    assert [row["sample"].connector_id for row in item["telemetry"]] == [1, 2]
    assert "whole charger" in response.content.decode()


# --- Whose reports ------------------------------------------------------------------------


def test_another_operators_reports_and_readings_never_show(world, signed_in, site_for):
    ours, theirs = world["ours"], world["theirs"]
    occurrence(ours, 60, fault_message="ours")
    occurrence(theirs, 50, fault_message="RIVAL-SECRET", details={"rival": True})
    # Our charger handed to Rival: what happens under Rival stays Rival's.
    moment = timezone.now() - timedelta(minutes=60)
    sample(ours, moment + timedelta(seconds=30), voltage=230.1)
    provisioning.assign_device(Actor.platform(), ours.device_id, site_for(world["rival"]).site_id)
    occurrence(ours, 10, fault_message="RIVAL-AFTER-HANDOVER")
    sample(ours, moment + timedelta(seconds=60), voltage=777.7)  # stamped Rival's
    response = signed_in(ACME).get(URL)
    html = response.content.decode()
    (item,) = response.context["reports"]
    assert item["message"] == "ours"
    assert [row["sample"].voltage for row in item["telemetry"]] == [230.1]
    assert "RIVAL" not in html and "777.7" not in html and "SN-RIVAL-1" not in html
    assert "no longer in your fleet" in html  # and no link to a page Acme cannot open
    assert f'href="/devices/{ours.device_id}/"' not in html
    summary = signed_in(ACME, username="summary").get("/faults/undocumented/")
    (row,) = summary.context["rows"]
    assert row["count"] == 1 and row["latest_message"] == "ours"
    rival = signed_in(RIVAL).get(URL)
    assert [item["message"] for item in rival.context["reports"]] == [
        "RIVAL-AFTER-HANDOVER",
        "RIVAL-SECRET",
    ]
    assert "230.1" not in rival.content.decode()


def test_a_code_only_another_operator_reported_is_not_found(world, signed_in):
    occurrence(world["theirs"], 5, fault_message="RIVAL-SECRET")
    response = signed_in(ACME).get(URL)
    assert response.status_code == 404
    assert "RIVAL-SECRET" not in response.content.decode()


def test_a_documented_code_goes_to_its_entry(world, signed_in):
    occurrence(world["ours"], 5, code="F-0421")
    response = signed_in(ACME).get("/faults/undocumented/F-0421/")
    assert response.status_code == 302 and response["Location"] == "/faults/F-0421/"


# --- Hostile input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"fault_message": "<script>alert(1)</script>", "details": {"<b>": "<img src=x>"}},
        {"fault_message": 42, "details": [1, "two", None, {"x": [True]}]},
        {"fault_message": {"nested": "object"}, "details": "just text"},
        {"fault_message": "a" * 5000, "details": {"blob": "x" * 20000}},
        {"fault_message": "evil\u202eoverride\u200b", "details": {"k\u2028": "v\u0085"}},
        {"details": None, "extra_field": {"vendor": "x"}},
    ],
)
def test_charger_input_is_escaped_and_bounded_and_never_a_500(world, signed_in, data):
    occurrence(world["ours"], 5, **data)
    response = signed_in(ACME).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert" not in html and "<img src=x>" not in html and "<b>" not in html
    assert "\u202e" not in html and "\u2028" not in html and "\u0085" not in html
    assert len(html) < 40_000
    assert (
        response.context["reports"][0]["details"] is None
        or len(response.context["reports"][0]["details"]) < 4100
    )


def test_event_data_that_is_not_an_object_is_shown_whole(world, signed_in):
    event = occurrence(world["ours"], 5)
    DeviceEvent.objects.filter(pk=event.pk).update(data=["not", "an", "object"])
    response = signed_in(ACME).get(URL)
    assert response.status_code == 200
    assert response.context["reports"][0]["other_fields"].startswith('{\n  "data": [')


def test_payload_text_survives_nesting_too_deep_for_json():
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert json_text(deep, 100, "elsewhere") == "(not shown: it does not read as JSON)"
    assert message_text(deep, 100, "elsewhere") == "(not shown: it does not read as JSON)"


def test_hidden_characters_are_written_as_escapes():
    assert visible("a\u202eb\u200bc\U000e0001") == "a\\u202eb\\u200bc\\udb40\\udc01"
    assert json.loads(json_text({"k": "a\u202eb"}, 100, "x")) == {"k": "a\u202eb"}


def test_offsets_are_words():
    assert offset_words(timedelta(seconds=-65)) == "1 min 5 s before"
    assert offset_words(timedelta(seconds=120)) == "2 min after"
    assert offset_words(timedelta(milliseconds=300)) == "at the same second"


# --- Paging and the file for Tellus ---------------------------------------------------------


def test_reports_come_twenty_a_page_newest_first_with_the_older_on_the_next(world, signed_in):
    ours = world["ours"]
    for n in range(REPORTS_PER_PAGE + 5):
        occurrence(ours, n + 1, fault_message=f"report {n}")
    browser = signed_in(ACME)
    first = browser.get(URL)
    messages = [item["message"] for item in first.context["reports"]]
    assert messages == [f"report {n}" for n in range(REPORTS_PER_PAGE)]
    assert '<a href="?page=2">Older reports</a>' in first.content.decode()
    second = browser.get(URL, {"page": 2})
    assert [item["message"] for item in second.context["reports"]] == [
        f"report {n}" for n in range(REPORTS_PER_PAGE, REPORTS_PER_PAGE + 5)
    ]
    assert '<a href="?page=1">Newer reports</a>' in second.content.decode()
    for odd in ("99", "0", "x", "-1"):  # past the end: the last page; nonsense: the first
        assert browser.get(URL, {"page": odd}).status_code == 200


def test_the_report_downloads_as_json_with_the_chargers_id_and_firmware(world, signed_in):
    ours = world["ours"]
    event = occurrence(ours, 60, fault_message="x" * 5000, details={"blob": "y" * 9000})
    sample(ours, event.timestamp - timedelta(seconds=5), temperature=40.0)
    response = signed_in(ACME).get(URL, {"download": "json"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="undocumented-F-9999.json"'
    body = json.loads(response.content)
    assert body["fault_code"] == CODE and body["reported"]["count"] == 1
    (charger,) = body["chargers"]
    assert (charger["device_id"], charger["sn"]) == (ours.device_id, "SN-ACME-1")
    (item,) = body["occurrences"]
    assert item["device_id"] == ours.device_id and item["firmware_version"] == "3.0.1"
    assert item["payload"] == event.data  # whole, as sent
    (reading,) = item["telemetry"]
    assert reading["offset_seconds"] == -5 and reading["temperature"] == 40.0


def test_a_code_with_odd_characters_has_a_working_page(world, signed_in):
    code = "E 12/#?%"
    occurrence(world["ours"], 5, code=code, fault_message="odd")
    browser = signed_in(ACME)
    (row,) = browser.get("/faults/undocumented/").context["rows"]
    assert row["report_url"] == "/faults/undocumented/E%2012/%23%3F%25/"
    response = browser.get(row["report_url"])
    assert response.status_code == 200 and response.context["code"] == code
    download = browser.get(row["report_url"], {"download": "json"})
    assert download["Content-Disposition"] == 'attachment; filename="undocumented-E_12____.json"'
