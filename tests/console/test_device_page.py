"""A charger's page: what it is, what it reports and what was sent to it, for its own
operator only; the remote actions for the operator role only, through the API's service."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import (
    AuditEntry,
    Command,
    Connector,
    ConnectorState,
    Device,
    DeviceEvent,
    Schedule,
)
from fleet.services import provisioning
from fleet.services.telemetry import record_telemetry_orm

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleets(make_client, site_for, assigned_device):
    acme, _ = make_client("Acme Charging")
    rival, _ = make_client("Rival Energy")
    theirs = assigned_device(rival, site_for(rival, "Rival Yard"))
    return acme, rival, site_for(acme, "Acme Depot"), theirs


@pytest.fixture
def charger(fleets, register_device):
    """A registered charger on Acme's depot, connector 1 reporting (stored as the charger
    API stores a sample; the HTTP path is covered by tests/api)."""
    _, _, depot, _ = fleets
    registration = register_device(firmware_version="3.0.1", model="TP-DC180")
    provisioning.assign_device(Actor.platform(), registration["device_id"], depot.site_id)
    reading = {
        "timestamp": timezone.now(),
        "connector_id": 1,
        "state": "charging",
        "voltage": 231.0,
        "current": 16.0,
        "power": 7.4,
        "energy_delivered": 3.25,
        "soc": 55,
        "temperature": 41.5,
        "phase_details": None,
        "component_health": None,
    }
    record_telemetry_orm(registration["device_id"], reading, timezone.now())
    return Device.objects.get(pk=registration["device_id"]), registration


def page_of(browser: Client, device: Device):
    return browser.get(f"/devices/{device.device_id}/")


def test_the_page_shows_the_chargers_live_state_and_its_chart(charger, signed_in):
    device, _ = charger
    response = page_of(signed_in("Acme Charging"), device)
    html = response.content.decode()
    assert response.status_code == 200
    for shown in (
        device.sn,
        "7.4 kW",
        "231 V",
        "16.0 A",
        "3.25 kWh",
        "55 %",
        "41.5 °C",
        "charging",
    ):
        assert shown in html, shown
    chart = response.context["chart"]
    assert not chart.empty and chart.series[0].last_value == 7.4
    assert "<polyline" in html


def test_another_operators_charger_and_an_unknown_id_are_not_found(fleets, signed_in):
    _, _, _, theirs = fleets
    browser = signed_in("Acme Charging", "admin")
    assert page_of(browser, theirs).status_code == 404
    assert browser.get("/devices/dvc_nope/").status_code == 404
    assert theirs.sn.encode() not in browser.get("/devices/dvc_nope/").content


def test_events_carry_their_dictionary_titles(charger, signed_in):
    device, _ = charger
    call_command("load_diagnostics", verbosity=0)
    DeviceEvent.objects.create(
        device=device,
        connector_id=1,
        event_type="fault",
        timestamp=timezone.now(),
        fault_code="F-0421",
    )
    DeviceEvent.objects.create(
        device=device,
        connector_id=1,
        event_type="fault",
        timestamp=timezone.now(),
        fault_code="X-9",
    )
    html = page_of(signed_in("Acme Charging"), device).content.decode()
    assert "F-0421" in html and "(not in the dictionary)" in html


def test_firmware_inside_a_known_issue_is_flagged_with_the_reason(charger, signed_in):
    device, _ = charger
    call_command("load_diagnostics", verbosity=0)
    notes = page_of(signed_in("Acme Charging"), device).context["firmware_notes"]
    assert any(note.kind == "known_issue" and note.fault_code == "F-0421" for note in notes)
    assert any(note.kind == "behind_latest" for note in notes)


@pytest.mark.parametrize("role", ["viewer", "engineer"])
def test_roles_below_operator_see_no_actions_and_are_refused_if_they_post(charger, signed_in, role):
    device, _ = charger
    browser = signed_in("Acme Charging", role)
    html = page_of(browser, device).content.decode()
    assert "Start charging" not in html and "/start/" not in html
    response = browser.post(f"/devices/{device.device_id}/start/", {"connector_id": 1})
    assert response.status_code == 403
    assert not Command.objects.exists()


def test_an_operator_starts_charging_through_the_apis_service(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "operator", username="olga")
    assert "Start charging" in page_of(browser, device).content.decode()

    response = browser.post(
        f"/devices/{device.device_id}/start/",
        {"connector_id": 1, "charge_power": "11", "target_soc": "80"},
        follow=True,
    )
    command = Command.objects.get()
    assert (command.command, command.connector_id, command.status) == (
        "start_charging",
        1,
        "queued",
    )
    assert command.params == {"charge_power": 11.0, "target_soc": 80}
    assert command.issued_by_user.username == "olga"
    entry = AuditEntry.objects.get(action="execute_command")
    assert (entry.actor, entry.operator_id) == ("user:olga", device.site.operator_id)
    assert "queued for connector 1" in response.content.decode()
    assert command.command_id in response.content.decode()  # listed under Commands


def test_a_second_start_while_one_is_queued_is_refused_with_the_apis_reason(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "operator")
    browser.post(f"/devices/{device.device_id}/start/", {"connector_id": 1})
    response = browser.post(f"/devices/{device.device_id}/start/", {"connector_id": 1}, follow=True)
    assert Command.objects.count() == 1
    assert "already queued" in response.content.decode()


@pytest.mark.parametrize(
    "fields",
    [
        {"connector_id": "1", "charge_power": "inf"},
        {"connector_id": "1", "charge_power": "nan"},
        {"connector_id": "1", "charge_power": "-3"},
        {"connector_id": "1", "charge_power": "1e400"},
        {"connector_id": "1", "target_soc": "101"},
        {"connector_id": "1", "duration": "abc"},
        {"connector_id": "0"},
        {"connector_id": "99999999999999999999"},
        {"connector_id": "1\x00"},
        {},
    ],
)
def test_bad_action_input_sends_nothing_and_says_why(charger, signed_in, fields):
    device, _ = charger
    response = signed_in("Acme Charging", "operator").post(
        f"/devices/{device.device_id}/start/", fields, follow=True
    )
    assert response.status_code == 200
    assert "Nothing was sent" in response.content.decode()
    assert not Command.objects.exists()


def test_an_unknown_connector_is_refused(charger, signed_in):
    device, _ = charger
    response = signed_in("Acme Charging", "operator").post(
        f"/devices/{device.device_id}/stop/", {"connector_id": 7}, follow=True
    )
    assert "Nothing was sent" in response.content.decode()
    assert not Command.objects.exists()


def test_discharge_is_offered_and_accepted_on_v2g_hardware_only(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "operator")
    assert "Discharge" not in page_of(browser, device).content.decode()
    refused = browser.post(
        f"/devices/{device.device_id}/discharge/",
        {"connector_id": 1, "discharge_power": "5"},
        follow=True,
    )
    assert "not V2G-capable" in refused.content.decode()
    assert not Command.objects.exists()

    Device.objects.filter(pk=device.pk).update(v2g_capable=True)
    assert "Discharge" in page_of(browser, device).content.decode()
    browser.post(
        f"/devices/{device.device_id}/discharge/", {"connector_id": 1, "discharge_power": "5"}
    )
    assert Command.objects.get().params == {"discharge_power": 5.0}


def test_an_action_on_another_operators_charger_is_not_found(fleets, signed_in):
    _, _, _, theirs = fleets
    Connector.objects.update_or_create(
        device=theirs, connector_id=1, defaults={"state": ConnectorState.IDLE}
    )
    response = signed_in("Acme Charging", "admin").post(
        f"/devices/{theirs.device_id}/start/", {"connector_id": 1}
    )
    assert response.status_code == 404
    assert not Command.objects.exists()


def test_actions_need_the_csrf_token(charger, console_user):
    device, _ = charger
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(console_user("olga", "Acme Charging", "operator"))
    assert (
        browser.post(f"/devices/{device.device_id}/start/", {"connector_id": 1}).status_code == 403
    )
    assert not Command.objects.exists()


def test_an_unknown_action_changes_nothing(charger, signed_in):
    device, _ = charger
    response = signed_in("Acme Charging", "operator").post(
        f"/devices/{device.device_id}/explode/", {"connector_id": 1}, follow=True
    )
    assert "Unknown action" in response.content.decode()
    assert not Command.objects.exists()


def test_the_page_costs_a_bounded_number_of_queries(
    charger, signed_in, django_assert_max_num_queries
):
    device, _ = charger
    browser = signed_in("Acme Charging", "operator")
    for _ in range(5):
        browser.post(f"/devices/{device.device_id}/stop/", {"connector_id": 1})
    now = timezone.now()
    for n in range(15):
        DeviceEvent.objects.create(
            device=device,
            connector_id=1,
            event_type="fault",
            timestamp=now - timedelta(seconds=n),
            fault_code="F-0421",
        )
    # 4 of them read the header's health: its state, active alerts, connectors, last fault
    with django_assert_max_num_queries(34):
        assert page_of(browser, device).status_code == 200


def test_an_operator_stores_a_schedule_through_the_apis_service(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "operator", username="olga")
    assert "Send schedule" in page_of(browser, device).content.decode()
    response = browser.post(
        f"/devices/{device.device_id}/schedule/",
        {
            "connector_id": 1,
            "schedule_id": "night",
            "type": "weekly",
            "day_of_week": ["mon", "fri"],
            "start": "22:00",
            "end": "06:00",
            "action": "charge",
            "power_limit": "7.4",
            "timezone": "Europe/London",
            "enabled": "on",
        },
        follow=True,
    )
    command = Command.objects.get()
    assert (command.command, command.connector_id) == ("set_schedule", 1)
    assert command.params["time_slots"] == [
        {
            "day_of_week": ["mon", "fri"],
            "start": "22:00",
            "end": "06:00",
            "power_limit": 7.4,
            "action": "charge",
        }
    ]
    assert command.params["enabled"] is True and command.params["timezone"] == "Europe/London"
    schedule = Schedule.objects.get(device=device, connector_id=1)
    assert (schedule.schedule_id, schedule.type, schedule.enabled) == ("night", "weekly", True)
    assert "set_schedule queued for connector 1" in response.content.decode()


@pytest.mark.parametrize(
    "change, said",
    [
        ({"start": "25:00"}, "HH:MM"),
        ({"type": "weekly"}, "day_of_week"),
        ({"action": "discharge"}, "V2G"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"schedule_id": "night\x00"}, "Nothing was sent"),
    ],
)
def test_a_schedule_the_api_would_refuse_is_refused_and_nothing_is_sent(
    charger, signed_in, change, said
):
    device, _ = charger
    browser = signed_in("Acme Charging", "operator")
    body = {
        "connector_id": 1,
        "schedule_id": "night",
        "type": "daily",
        "start": "22:00",
        "end": "06:00",
        "action": "charge",
        "enabled": "on",
        **change,
    }
    response = browser.post(f"/devices/{device.device_id}/schedule/", body, follow=True)
    html = response.content.decode()
    assert "Nothing was sent" in html and said.lower() in html.lower()
    assert not Command.objects.exists()
    assert not Schedule.objects.exists()


def test_a_viewer_cannot_send_a_schedule(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "viewer")
    assert "Send schedule" not in page_of(browser, device).content.decode()
    response = browser.post(
        f"/devices/{device.device_id}/schedule/",
        {
            "connector_id": 1,
            "schedule_id": "x",
            "type": "daily",
            "start": "22:00",
            "end": "06:00",
            "action": "charge",
        },
    )
    assert response.status_code == 403
    assert not Command.objects.exists()


# --- Diagnostic commands and the charger's own power limit -------------------------------


def test_a_viewer_sees_no_diagnostics_and_is_refused_if_it_posts(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "viewer")
    assert "Diagnostic commands" not in page_of(browser, device).content.decode()
    response = browser.post(f"/devices/{device.device_id}/diagnostics/", {"command": "reboot"})
    assert response.status_code == 403
    assert not Command.objects.exists()


def test_an_engineer_sends_a_low_risk_command_at_once(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "engineer", username="erin")
    html = page_of(browser, device).content.decode()
    assert "fetch_logs" in html and "run_self_test" not in html  # medium risk not offered
    assert "need the operator role" in html

    response = browser.post(
        f"/devices/{device.device_id}/diagnostics/",
        {"command": "trigger_message", "connector_id": "1", "message": "StatusNotification"},
        follow=True,
    )
    command = Command.objects.get()
    assert (command.command, command.connector_id, command.params) == (
        "trigger_message",
        1,
        {"message": "StatusNotification"},
    )
    assert command.issued_by_user.username == "erin"
    assert AuditEntry.objects.filter(action="execute_command", actor="user:erin").exists()
    assert "trigger_message (low risk) queued" in response.content.decode()


def test_an_engineer_is_refused_a_medium_risk_command(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "engineer")
    for confirmed in ("", "yes"):
        response = browser.post(
            f"/devices/{device.device_id}/diagnostics/",
            {"command": "run_self_test", "confirmed": confirmed},
        )
        assert response.status_code == 403
    assert not Command.objects.exists()


def test_a_medium_risk_command_waits_for_a_confirmation_that_says_what_it_does(charger, signed_in):
    device, _ = charger
    browser = signed_in("Acme Charging", "operator")
    url = f"/devices/{device.device_id}/diagnostics/"
    fields = {"command": "calibrate_sensor", "connector_id": "1", "sensor": "voltage",
              "reference": "230.5"}  # fmt: skip

    first = browser.post(url, fields)
    html = first.content.decode()
    assert first.status_code == 200 and not Command.objects.exists()
    assert "Confirm: send calibrate_sensor" in html
    assert "sensor voltage, reference 230.5" in html and "someone must be on site" in html
    assert 'name="confirmed" value="yes"' in html

    browser.post(url, {**fields, "confirmed": "yes"})
    command = Command.objects.get()
    assert command.command == "calibrate_sensor"
    assert command.params == {"sensor": "voltage", "reference": 230.5}


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"command": "format_disk"}, "Select a valid choice"),
        ({"command": "reset_connector"}, "needs a connector_id"),
        ({"command": "reset_connector", "connector_id": "9"}, "Connector 9"),
        ({"command": "trigger_message", "message": "Nope"}, "Select a valid choice"),
        ({"command": "trigger_message"}, "message must be one of"),
        ({"command": "reset_power_module", "module": "-1", "confirmed": "yes"}, "Ensure"),
        ({"command": "calibrate_sensor", "sensor": "voltage", "confirmed": "yes"}, "reference"),
        ({"command": "reboot", "module": "1e400"}, "Enter a whole number"),
    ],
)
def test_a_diagnostic_command_the_service_refuses_sends_nothing_and_says_why(
    charger, signed_in, fields, reason
):
    device, _ = charger
    response = signed_in("Acme Charging", "operator").post(
        f"/devices/{device.device_id}/diagnostics/", fields, follow=True
    )
    assert response.status_code == 200
    assert "Nothing was sent" in response.content.decode()
    assert reason in response.content.decode()
    assert not Command.objects.exists()


def test_unlocking_a_charging_connector_is_refused(charger, signed_in):
    device, _ = charger  # connector 1 reports charging
    response = signed_in("Acme Charging", "operator").post(
        f"/devices/{device.device_id}/diagnostics/",
        {"command": "unlock_connector", "connector_id": "1", "confirmed": "yes"},
        follow=True,
    )
    assert "stop the session first" in response.content.decode()
    assert not Command.objects.exists()


def test_diagnostics_on_another_operators_charger_are_not_found(fleets, signed_in):
    *_, theirs = fleets
    browser = signed_in("Acme Charging", "admin")
    for path, fields in (
        ("diagnostics", {"command": "reboot"}),
        ("power", {"command": "pause_charging", "duration": "5", "confirmed": "yes"}),
    ):
        response = browser.post(f"/devices/{theirs.device_id}/{path}/", fields)
        assert response.status_code == 404
    assert not Command.objects.exists()


def test_an_operator_limits_one_chargers_power_after_confirming(charger, signed_in):
    device, _ = charger
    Device.objects.filter(pk=device.pk).update(rated_power_kw=180)
    browser = signed_in("Acme Charging", "operator", username="olga")
    url = f"/devices/{device.device_id}/power/"
    fields = {"command": "set_power_limit", "power_limit_percent": "25", "duration": "90"}

    html = browser.post(url, fields).content.decode()
    assert not Command.objects.exists()
    assert "set_power_limit at 25 %" in html and "1 hour 30 minutes" in html
    assert "up to 45 kW" in html  # 25 % of the 180 kW rating

    response = browser.post(url, {**fields, "confirmed": "yes"}, follow=True)
    command = Command.objects.get()
    assert (command.command, command.connector_id) == ("set_power_limit", None)
    assert command.params == {"power_limit_percent": 25, "duration": 5400}
    assert command.issued_by_user.username == "olga"
    assert "set_power_limit queued" in response.content.decode()


def test_a_pause_goes_out_as_a_zero_limit_like_the_apis_flexibility(charger, signed_in):
    device, _ = charger
    signed_in("Acme Charging", "operator").post(
        f"/devices/{device.device_id}/power/",
        {"command": "pause_charging", "duration": "10", "confirmed": "yes"},
    )
    command = Command.objects.get()
    assert command.command == "set_power_limit"
    assert command.params["power_limit_percent"] == 0 and command.params["duration"] == 600


@pytest.mark.parametrize(
    "fields",
    [
        {"command": "set_power_limit", "power_limit_percent": "101", "duration": "5"},
        {"command": "set_power_limit", "duration": "5"},
        {"command": "pause_charging", "duration": "0"},
        {"command": "pause_charging", "duration": "99999999"},
        {"command": "boost", "duration": "5"},
    ],
)
def test_a_bad_power_limit_sends_nothing(charger, signed_in, fields):
    device, _ = charger
    response = signed_in("Acme Charging", "operator").post(
        f"/devices/{device.device_id}/power/", {**fields, "confirmed": "yes"}, follow=True
    )
    assert "Nothing was sent" in response.content.decode()
    assert not Command.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "engineer"])
def test_roles_below_operator_cannot_limit_power(charger, signed_in, role):
    device, _ = charger
    browser = signed_in("Acme Charging", role)
    assert "Power limit or pause" not in page_of(browser, device).content.decode()
    response = browser.post(
        f"/devices/{device.device_id}/power/",
        {"command": "pause_charging", "duration": "5", "confirmed": "yes"},
    )
    assert response.status_code == 403
    assert not Command.objects.exists()
