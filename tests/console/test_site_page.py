"""A site's page: its chargers and what they draw against its capacity, for its own
operator only; limiting or pausing the whole site for the operator role only, confirmed
first and sent through the API's flexibility service."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from console.web.access import access_for
from console.web.views.sites import site_context
from fleet.actors import Actor
from fleet.errors import Conflict
from fleet.models import AuditEntry, Command, Connector, ConnectorState, Control, Device, Site
from fleet.services import control

pytestmark = pytest.mark.django_db


@pytest.fixture
def fleets(make_client, site_for):
    acme, _ = make_client("Acme Charging")
    rival, _ = make_client("Rival Energy")
    depot = site_for(acme, "Acme Depot", address="1 Dock Road", power_capacity=50.0)
    return acme, rival, depot, site_for(rival, "Rival Yard")


@pytest.fixture
def depot_chargers(fleets, assigned_device):
    """Two chargers at Acme's depot: one charging at 22 kW on connector 1 (idle on 2),
    one in fault; 22 kW of a 50 kW capacity."""
    acme, _, depot, _ = fleets
    busy = assigned_device(acme, depot, model="TP-AC22", firmware_version="2.4.0")
    broken = assigned_device(acme, depot, model="TP-DC60", firmware_version="3.0.1")
    Device.objects.filter(pk=busy.pk).update(status="online", last_heartbeat=timezone.now())
    Connector.objects.create(device=busy, connector_id=1, state=ConnectorState.CHARGING, power=22)
    Connector.objects.create(device=busy, connector_id=2, state=ConnectorState.IDLE, power=0)
    Connector.objects.create(device=broken, connector_id=1, state=ConnectorState.FAULT)
    return busy, broken


def page_of(browser: Client, site: Site):
    return browser.get(f"/sites/{site.site_id}/")


def flexibility(browser: Client, site: Site, fields: dict, **kwargs):
    return browser.post(f"/sites/{site.site_id}/flexibility/", fields, **kwargs)


LIMIT = {"command": "set_power_limit", "power_limit_percent": "50", "duration": "30"}
PAUSE = {"command": "pause_charging", "duration": "90"}


def test_the_page_shows_the_site_its_chargers_and_their_connectors(
    fleets, depot_chargers, signed_in
):
    _, _, depot, _ = fleets
    busy, broken = depot_chargers
    response = page_of(signed_in("Acme Charging"), depot)
    html = response.content.decode()
    assert response.status_code == 200
    for shown in ("Acme Depot", "1 Dock Road", "active", busy.sn, broken.sn, "TP-AC22", "2.4.0"):
        assert shown in html, shown
    assert f'href="/devices/{busy.device_id}/"' in html
    assert "22.0 kW" in html and "state-fault" in html
    assert f'data-since="{Device.objects.get(pk=busy.pk).last_heartbeat.isoformat()}' in html
    assert response.context["counts"]["charging"] == 1
    assert response.context["counts"]["idle"] == 1
    assert response.context["counts"]["fault"] == 1


def test_power_in_use_is_measured_against_capacity_in_words_and_a_meter(
    fleets, depot_chargers, signed_in
):
    _, _, depot, _ = fleets
    html = page_of(signed_in("Acme Charging"), depot).content.decode()
    assert "22.0 kW</strong> of 50 kW capacity (44 %)" in html
    assert "within capacity" in html
    assert '<meter class="site-meter" min="0" max="50.000" value="22.000"' in html


def test_a_site_drawing_more_than_its_capacity_says_so(fleets, depot_chargers, signed_in):
    _, _, depot, _ = fleets
    busy, _ = depot_chargers
    Connector.objects.filter(device=busy, connector_id=2).update(state="charging", power=40)
    html = page_of(signed_in("Acme Charging"), depot).content.decode()
    assert "62.0 kW</strong> of 50 kW capacity (124 %)" in html
    assert "over capacity by 12.0 kW" in html


def test_a_site_without_a_recorded_capacity_shows_the_draw_and_what_to_do(
    make_client, site_for, signed_in
):
    acme, _ = make_client("Acme Charging")
    shed = site_for(acme, "Acme Shed")
    html = page_of(signed_in("Acme Charging"), shed).content.decode()
    assert "0.0 kW" in html and "<meter" not in html
    assert "capacity is not recorded" in html


def test_a_site_with_no_charger_says_how_chargers_are_placed(fleets, signed_in):
    _, _, depot, _ = fleets
    html = page_of(signed_in("Acme Charging", "operator"), depot).content.decode()
    assert "No charger is on this site yet" in html
    assert "your platform administrator then places it on this site" in html
    assert "assign_device" not in html and "/v1/device" not in html  # words for people
    assert "Set power limit" not in html  # nothing to control yet


def test_the_live_blocks_render_alone_for_a_push(fleets, depot_chargers, signed_in):
    _, _, depot, _ = fleets
    busy, _ = depot_chargers
    browser = signed_in("Acme Charging")
    request = page_of(browser, depot).wsgi_request
    context = site_context(access_for(request), depot)
    devices = render_to_string("console/sites/site.html#site-devices", context)
    power = render_to_string("console/sites/site.html#site-power", context)
    assert 'id="site-devices"' in devices and busy.sn in devices and "<html" not in devices
    assert 'id="site-power"' in power and "22.0 kW" in power


def test_another_operators_site_is_not_found(fleets, signed_in):
    _, _, _, yard = fleets
    browser = signed_in("Acme Charging", "admin")
    response = page_of(browser, yard)
    assert response.status_code == 404
    assert "Rival Yard" not in response.content.decode()
    assert browser.get("/sites/site_nope/").status_code == 404


def test_a_flexibility_post_for_another_operators_site_is_not_found(
    fleets, assigned_device, signed_in
):
    _, rival, _, yard = fleets
    assigned_device(rival, yard)
    for confirmed in ("", "yes"):
        response = flexibility(
            signed_in("Acme Charging", "admin", username=f"ada{confirmed}"),
            yard,
            {**LIMIT, "confirmed": confirmed},
        )
        assert response.status_code == 404
    assert not Control.objects.exists() and not Command.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "engineer"])
def test_roles_below_operator_see_no_controls_and_are_refused_if_they_post(
    fleets, depot_chargers, signed_in, role
):
    _, _, depot, _ = fleets
    browser = signed_in("Acme Charging", role)
    html = page_of(browser, depot).content.decode()
    assert "Set power limit" not in html and "Pause charging" not in html
    assert "/flexibility/" not in html
    assert "for the operator role" in html
    response = flexibility(browser, depot, {**LIMIT, "confirmed": "yes"})
    assert response.status_code == 403
    assert not Control.objects.exists() and not Command.objects.exists()


def test_the_controls_are_posted_only(fleets, signed_in):
    _, _, depot, _ = fleets
    response = signed_in("Acme Charging", "operator").get(f"/sites/{depot.site_id}/flexibility/")
    assert response.status_code == 405


def test_a_power_limit_is_confirmed_with_exactly_what_will_happen_before_anything_is_sent(
    fleets, depot_chargers, signed_in
):
    _, _, depot, _ = fleets
    browser = signed_in("Acme Charging", "operator")
    assert "Set power limit" in page_of(browser, depot).content.decode()
    response = flexibility(browser, depot, LIMIT)
    html = response.content.decode()
    assert response.status_code == 200
    assert (
        "Each of the 2 chargers at Acme Depot will receive set_power_limit at 50 % "
        "of its maximum power for 30 minutes" in html
    )
    assert 'name="confirmed" value="yes"' in html and "Send to 2 chargers" in html
    assert not Control.objects.exists() and not Command.objects.exists()


def test_the_confirmation_says_what_a_limit_allows_the_site_to_draw_when_ratings_are_known(
    fleets, depot_chargers, signed_in
):
    _, _, depot, _ = fleets
    Device.objects.filter(site=depot).update(rated_power_kw=22)
    html = flexibility(signed_in("Acme Charging", "operator"), depot, LIMIT).content.decode()
    assert "Rated 44 kW in all, the site&#x27;s chargers may then draw up to 22 kW" in html
    assert "(site capacity 50 kW)" in html


def test_an_operator_sets_a_power_limit_for_every_charger_of_the_site(
    fleets, depot_chargers, signed_in
):
    _, _, depot, _ = fleets
    browser = signed_in("Acme Charging", "operator", username="olga")
    response = flexibility(browser, depot, {**LIMIT, "confirmed": "yes"}, follow=True)

    created = Control.objects.get()
    assert (created.target_type, created.target_ids, created.command) == (
        "site",
        [depot.site_id],
        "set_power_limit",
    )
    assert created.params == {"power_limit_percent": 50, "duration": 1800}
    assert created.issued_by_user.username == "olga"
    commands = Command.objects.filter(control_id=created.control_id)
    assert sorted(c.device_id for c in commands) == sorted(d.device_id for d in depot_chargers)
    assert {c.command for c in commands} == {"set_power_limit"}
    entries = AuditEntry.objects.filter(action="execute_command")
    assert entries.count() == 2
    assert {(e.actor, e.operator_id) for e in entries} == {("user:olga", depot.operator_id)}
    html = response.content.decode()
    assert f"sent to 2 chargers at Acme Depot for 30 minutes (control {created.control_id})" in html


def test_an_operator_pauses_charging_for_a_duration(fleets, depot_chargers, signed_in):
    _, _, depot, _ = fleets
    browser = signed_in("Acme Charging", "operator")
    preview = flexibility(browser, depot, PAUSE).content.decode()
    assert "set_power_limit at 0 % (a pause) for 1 hour 30 minutes" in preview
    assert not Control.objects.exists()

    flexibility(browser, depot, {**PAUSE, "reason": "grid peak", "confirmed": "yes"})
    created = Control.objects.get()
    assert (created.command, created.params) == (
        "pause_charging",
        {"duration": 5400, "reason": "grid peak"},
    )
    sent = Command.objects.filter(control_id=created.control_id)
    params = {c.params["power_limit_percent"] for c in sent}
    assert params == {0} and Command.objects.count() == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"command": "set_power_limit", "power_limit_percent": "50"},
        {"command": "set_power_limit", "power_limit_percent": "50", "duration": "-5"},
        {"command": "set_power_limit", "power_limit_percent": "50", "duration": "0"},
        {"command": "set_power_limit", "power_limit_percent": "101", "duration": "30"},
        {"command": "set_power_limit", "power_limit_percent": "-1", "duration": "30"},
        {"command": "set_power_limit", "power_limit_percent": "12.5", "duration": "30"},
        {"command": "set_power_limit", "duration": "30"},
        {"command": "set_power_limit", "power_limit_percent": "5\x00", "duration": "30"},
        {"command": "pause_charging", "duration": "30\x00"},
        {"command": "pause_charging", "duration": "30", "reason": "peak\x00"},
        {"command": "pause_charging", "duration": "99999999999999999999"},
        {"command": "pause_charging", "duration": str(7 * 24 * 60 + 1)},
        {"command": "pause_charging", "duration": "30", "reason": "x" * 65},
        {"command": "explode", "duration": "30"},
        {},
    ],
)
def test_bad_input_sends_nothing_and_says_why(fleets, depot_chargers, signed_in, fields):
    _, _, depot, _ = fleets
    response = flexibility(
        signed_in("Acme Charging", "operator"), depot, {**fields, "confirmed": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert "Nothing was sent" in response.content.decode()
    assert not Control.objects.exists() and not Command.objects.exists()


def test_a_missing_duration_is_named_in_the_message(fleets, depot_chargers, signed_in):
    _, _, depot, _ = fleets
    response = flexibility(
        signed_in("Acme Charging", "operator"),
        depot,
        {"command": "pause_charging", "confirmed": "yes"},
        follow=True,
    )
    assert "Duration (minutes): This field is required." in response.content.decode()


def test_a_site_with_no_charger_is_not_sent_an_empty_control(fleets, signed_in):
    _, _, depot, _ = fleets
    response = flexibility(
        signed_in("Acme Charging", "operator"), depot, {**PAUSE, "confirmed": "yes"}, follow=True
    )
    assert "Nothing was sent: no charger is on Acme Depot yet." in response.content.decode()
    assert not Control.objects.exists()


def test_the_services_refusal_is_shown_not_a_server_error(
    fleets, depot_chargers, signed_in, monkeypatch
):
    def refuse(*args, **kwargs):
        raise Conflict("Another control is being applied")

    monkeypatch.setattr(control, "flexibility", refuse)
    _, _, depot, _ = fleets
    response = flexibility(
        signed_in("Acme Charging", "operator"), depot, {**PAUSE, "confirmed": "yes"}, follow=True
    )
    assert response.status_code == 200
    assert "Nothing was sent: Another control is being applied" in response.content.decode()


def test_progress_shows_each_controls_command_counts_and_time_left(
    fleets, depot_chargers, signed_in
):
    _, _, depot, _ = fleets
    actor = Actor.platform(depot.operator_id)
    created, commands = control.flexibility(
        actor,
        "site",
        [depot.site_id],
        "set_power_limit",
        {"power_limit_percent": 40, "duration": 3600},
    )
    Command.objects.filter(pk=commands[0].pk).update(status="completed")
    html = page_of(signed_in("Acme Charging"), depot).content.decode()
    assert created.control_id in html
    assert "2: 1 queued, 0 accepted, 1 completed, 0 failed" in html
    assert "cmd-accepted" in html  # one done, one waiting: in progress
    assert "59\xa0minutes left" in html or "1\xa0hour left" in html


def test_progress_lists_only_this_sites_controls_and_says_when_one_ended(
    fleets, depot_chargers, site_for, signed_in
):
    acme, _, depot, _ = fleets
    elsewhere = site_for(acme, "Acme Annex")
    actor = Actor.platform(depot.operator_id)
    old, _ = control.flexibility(actor, "site", [depot.site_id], "pause_charging", {"duration": 60})
    Control.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=2))
    other, _ = control.flexibility(
        actor, "site", [elsewhere.site_id], "pause_charging", {"duration": 60}
    )
    html = page_of(signed_in("Acme Charging"), depot).content.decode()
    assert old.control_id in html and other.control_id not in html
    assert "ended" in html


def test_the_page_costs_a_bounded_number_of_queries(
    fleets, signed_in, django_assert_max_num_queries
):
    _, _, depot, _ = fleets
    now = timezone.now()
    devices = Device.objects.bulk_create(
        Device(
            sn=f"SN-BULK-{n:04d}",
            model="TP-AC22",
            manufacturer="Tellus Power",
            firmware_version="2.4.0",
            secret_hash="x",
            secret_expires_at=now + timedelta(days=30),
            site=depot,
            status="online",
            last_heartbeat=now,
            rated_power_kw=22,
        )
        for n in range(60)
    )
    Connector.objects.bulk_create(
        Connector(device=device, connector_id=c, state=ConnectorState.CHARGING, power=7.0)
        for device in devices
        for c in (1, 2)
    )
    actor = Actor.platform(depot.operator_id)
    for _ in range(7):
        control.flexibility(actor, "site", [depot.site_id], "pause_charging", {"duration": 600})
    browser = signed_in("Acme Charging", "operator")
    with django_assert_max_num_queries(30):
        response = page_of(browser, depot)
    assert response.status_code == 200
    assert len(response.context["devices"]) == 60 and len(response.context["controls"]) == 5
    assert "840.0 kW</strong> of 50 kW capacity" in response.content.decode()
