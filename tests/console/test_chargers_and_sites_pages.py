"""The Chargers and Sites lists, and one state of health shown wherever a charger is: a
charger with an open over-temperature alert looks faulted on the fleet page, its site's
page, the Chargers list and its own page."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from fleet.actors import Actor
from fleet.models import Connector, ConnectorState, Device
from fleet.services.commands import queue_command
from fleet.services.records import store_charging_record
from tests import factories

pytestmark = pytest.mark.django_db

OVERHEAT = "Connector 1 cut out at 85 °C"


def open_alert(device: Device, severity: str, title: str, detector: str = "over_temperature"):
    return factories.alert(device, severity=severity, title=title, detector=detector)


def set_online(*devices: Device) -> None:
    Device.objects.filter(pk__in=[d.pk for d in devices]).update(
        status="online", last_heartbeat=timezone.now(), reported_status="online"
    )


@pytest.fixture
def fleets(make_client, assigned_device, site_for):
    """Acme: a depot with a healthy, an overheating and a silent charger, and a yard with
    a degraded one; Rival: one charger of its own."""
    acme, _ = make_client("Acme Charging")
    rival, _ = make_client("Rival Energy")
    depot = site_for(acme, "Acme Depot")
    yard = site_for(acme, "Acme Yard")
    healthy = assigned_device(acme, depot, sn="ACME-0001", model="AC-22", firmware_version="1.0")
    hot = assigned_device(acme, depot, sn="ACME-0002", model="DC-180", firmware_version="2.0")
    silent = assigned_device(acme, depot, sn="ACME-0003", model="AC-22", firmware_version="2.0")
    degraded = assigned_device(acme, yard, sn="ACME-0004", model="AC-22", firmware_version="1.0")
    theirs = assigned_device(rival, site_for(rival, "Rival Yard"), sn="RIVAL-0001")
    set_online(healthy, hot, degraded, theirs)
    open_alert(hot, "high", OVERHEAT)
    open_alert(degraded, "medium", "Repeated faults on connector 2", detector="repeat_fault")
    return {
        "depot": depot, "yard": yard, "healthy": healthy, "hot": hot, "silent": silent,
        "degraded": degraded, "theirs": theirs,
    }  # fmt: skip


def listed(response) -> list[str]:
    return [device.sn for device in response.context["page"].items]


# --- What is wrong, wherever a charger is shown ---------------------------------------------


def test_an_overheating_charger_is_faulted_with_its_alert_everywhere_it_is_shown(fleets, signed_in):
    browser = signed_in("Acme Charging")
    hot = fleets["hot"]
    pages = {
        "fleet table": browser.get("/"),
        "site table": browser.get(f"/sites/{fleets['depot'].site_id}/"),
        "chargers list": browser.get("/devices/"),
    }
    for where, response in pages.items():
        html = response.content.decode()
        row = html[html.index(hot.sn) :]
        row = row[: row.index("</tr>")]
        assert 'class="badge health-faulted"' in row, where
        assert OVERHEAT in row and "severity high" in row, where

    header = browser.get(f"/devices/{hot.device_id}/").content.decode()
    status = header[header.index('id="device-status"') :]
    status = status[: status.index('id="identity-heading"')]
    assert '<span class="badge health-faulted">faulted</span>' in status
    assert "Faulted: what is wrong" in status
    assert OVERHEAT in status
    assert f"/alerts/?device={hot.device_id}#alert-" in status
    assert "badge online" not in status  # no green "online" badge during a fault


def test_the_fleet_tiles_count_health_and_link_to_the_chargers_list(fleets, signed_in):
    response = signed_in("Acme Charging").get("/")
    counts = response.context["overview"].devices
    assert (counts.total, counts.faulted, counts.offline, counts.degraded, counts.healthy) == (
        4, 1, 1, 1, 1,
    )  # fmt: skip
    html = response.content.decode()
    for state in ("faulted", "offline", "degraded", "healthy"):
        assert f'href="/devices/?health={state}"' in html


def test_an_offline_charger_says_so_in_words_with_what_it_last_reported(fleets, signed_in):
    silent = fleets["silent"]
    Device.objects.filter(pk=silent.pk).update(
        last_heartbeat=timezone.now() - timezone.timedelta(minutes=12), reported_status="online"
    )
    html = signed_in("Acme Charging").get(f"/devices/{silent.device_id}/").content.decode()
    assert "<strong>Offline</strong>: no heartbeat since" in html
    assert "its last report said online." in html
    assert "the charger says" not in html
    assert '<span class="badge health-offline">offline</span>' in html


def test_a_connector_in_fault_is_counted_in_the_row_and_named_in_the_banner(fleets, signed_in):
    healthy = fleets["healthy"]
    Connector.objects.create(device=healthy, connector_id=2, state=ConnectorState.FAULT)
    browser = signed_in("Acme Charging")
    html = browser.get("/devices/", {"q": healthy.sn}).content.decode()
    assert "1 connector in fault" in html
    page = browser.get(f"/devices/{healthy.device_id}/").content.decode()
    assert "Connector 2 reports a fault." in page


# --- The Chargers list ---------------------------------------------------------------------


def test_chargers_are_listed_worst_health_first_by_default(fleets, signed_in):
    response = signed_in("Acme Charging").get("/devices/")
    assert listed(response) == ["ACME-0002", "ACME-0003", "ACME-0004", "ACME-0001"]


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("serial", ["ACME-0001", "ACME-0002", "ACME-0003", "ACME-0004"]),
        ("-serial", ["ACME-0004", "ACME-0003", "ACME-0002", "ACME-0001"]),
        ("-health", ["ACME-0001", "ACME-0004", "ACME-0003", "ACME-0002"]),
        ("model", ["ACME-0001", "ACME-0003", "ACME-0004", "ACME-0002"]),
        ("site", ["ACME-0001", "ACME-0002", "ACME-0003", "ACME-0004"]),
        ("-site", ["ACME-0004", "ACME-0001", "ACME-0002", "ACME-0003"]),
        ("heartbeat", ["ACME-0001", "ACME-0002", "ACME-0004", "ACME-0003"]),  # never: last
        ("nonsense", ["ACME-0002", "ACME-0003", "ACME-0004", "ACME-0001"]),  # the default
    ],
)
def test_a_column_header_sorts_the_list(fleets, signed_in, sort, expected):
    Device.objects.filter(sn="ACME-0001").update(
        last_heartbeat=timezone.now() - timezone.timedelta(minutes=5)
    )
    response = signed_in("Acme Charging").get("/devices/", {"sort": sort})
    assert listed(response) == expected


def test_the_header_links_toggle_the_sort_and_keep_the_filters(fleets, signed_in):
    response = signed_in("Acme Charging").get("/devices/", {"sort": "serial", "model": "AC-22"})
    headers = {header["key"]: header for header in response.context["headers"]}
    assert headers["serial"]["state"] == "ascending"
    assert "sort=-serial" in headers["serial"]["href"]
    assert "model=AC-22" in headers["serial"]["href"]
    assert 'aria-sort="ascending"' in response.content.decode()


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"health": "faulted"}, ["ACME-0002"]),
        ({"health": "offline"}, ["ACME-0003"]),
        ({"health": "degraded"}, ["ACME-0004"]),
        ({"health": "healthy"}, ["ACME-0001"]),
        ({"status": "offline"}, ["ACME-0003"]),
        ({"status": "faulted"}, ["ACME-0002"]),  # older links
        ({"model": "AC-22", "sort": "serial"}, ["ACME-0001", "ACME-0003", "ACME-0004"]),
        ({"firmware": "2.0"}, ["ACME-0002", "ACME-0003"]),
        ({"q": "acme-0004"}, ["ACME-0004"]),  # a serial, in any case
    ],
)
def test_each_filter_narrows_the_list(fleets, signed_in, query, expected):
    assert listed(signed_in("Acme Charging").get("/devices/", query)) == expected


def test_a_site_filter_and_a_device_id_search(fleets, signed_in):
    browser = signed_in("Acme Charging")
    yard = browser.get("/devices/", {"site": fleets["yard"].site_id})
    assert listed(yard) == ["ACME-0004"]
    by_id = browser.get("/devices/", {"q": fleets["hot"].device_id})
    assert listed(by_id) == ["ACME-0002"]


def test_the_list_pages_through_every_charger(fleets, signed_in, assigned_device, make_client):
    acme, _ = make_client("Acme Charging")
    for n in range(5, 31):
        assigned_device(acme, fleets["depot"], sn=f"ACME-{n:04d}")
    browser = signed_in("Acme Charging")
    first = browser.get("/devices/", {"sort": "serial"})
    second = browser.get("/devices/", {"sort": "serial", "page": 2})
    assert first.context["page"].total == 30
    assert len(listed(first)) == 25 and len(listed(second)) == 5
    assert not set(listed(first)) & set(listed(second))
    assert "sort=serial&amp;page=2" in first.content.decode()


def test_another_operators_chargers_and_sites_are_never_listed(fleets, signed_in):
    browser = signed_in("Acme Charging")
    everything = browser.get("/devices/")
    assert "RIVAL-0001" not in everything.content.decode()
    theirs = fleets["theirs"]
    assert listed(browser.get("/devices/", {"site": theirs.site_id})) == []
    assert listed(browser.get("/devices/", {"q": theirs.device_id})) == []
    assert listed(browser.get("/devices/", {"q": "RIVAL-0001"})) == []
    assert browser.get(f"/devices/{theirs.device_id}/").status_code == 404
    assert "RIVAL" not in browser.get("/devices.csv").getvalue().decode()
    assert "Rival" not in browser.get("/sites/").content.decode()
    assert browser.get(f"/sites/{theirs.site_id}/").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "password"},
        {"sort": "-"},
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "99999999999999999999"},
        {"health": "exploded"},
        {"site": "' OR 1=1 --"},
        {"site": "x" * 500},
        {"q": "x" * 500},
        {"q": "\x00"},
        {"model": "%"},
        {"firmware": "\\"},
    ],
)
def test_hostile_query_strings_never_break_the_lists(fleets, signed_in, query):
    browser = signed_in("Acme Charging")
    for path in ("/devices/", "/devices.csv", "/sites/", "/sites.csv", "/"):
        response = browser.get(path, query)
        assert response.status_code in (200, 400), (path, query)
        if path == "/devices/" and response.context["page"] is not None:
            assert "RIVAL-0001" not in listed(response)


def test_the_chargers_csv_is_the_lists_selection_in_its_order(fleets, signed_in):
    response = signed_in("Acme Charging").get(
        "/devices.csv", {"model": "AC-22", "sort": "-serial", "page": 1}
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))
    assert [row["serial"] for row in rows] == ["ACME-0004", "ACME-0003", "ACME-0001"]
    degraded = rows[0]
    assert (degraded["health"], degraded["connectivity"]) == ("degraded", "online")
    assert (degraded["top_alert_severity"], degraded["top_alert"]) == (
        "medium", "Repeated faults on connector 2",
    )  # fmt: skip
    assert degraded["site"] == "Acme Yard"


def test_the_csv_makes_formulas_inert(fleets, signed_in, assigned_device, make_client):
    acme, _ = make_client("Acme Charging")
    assigned_device(acme, fleets["depot"], sn="=HYPERLINK(1)", model="+SUM(A1)")
    body = signed_in("Acme Charging").get("/devices.csv").getvalue().decode()
    assert "'=HYPERLINK(1)" in body and "'+SUM(A1)" in body
    assert "\n=HYPERLINK" not in body


def test_empty_states_say_why_nothing_is_listed(make_client, signed_in):
    make_client("Acme Charging")
    browser = signed_in("Acme Charging")
    for query in ({}, {"sort": "-serial"}):  # a sort alone is no filter
        chargers = browser.get("/devices/", query).content.decode()
        assert "No charger is on a site of Acme Charging yet" in chargers
        assert "Acme Charging has no site yet" in browser.get("/sites/", query).content.decode()
    narrowed = browser.get("/devices/", {"health": "faulted"}).content.decode()
    assert "No charger matches these filters" in narrowed


def test_an_htmx_sort_gets_the_table_alone(fleets, signed_in):
    response = signed_in("Acme Charging").get(
        "/devices/", {"sort": "serial"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="charger-table"') and "<html" not in html


# --- The Sites list ------------------------------------------------------------------------


def sites_listed(response) -> list[str]:
    return [site.name for site in response.context["page"].items]


def test_sites_show_their_chargers_health_and_alerts(fleets, signed_in):
    response = signed_in("Acme Charging").get("/sites/")
    rows = {site.name: site for site in response.context["page"].items}
    depot, yard = rows["Acme Depot"], rows["Acme Yard"]
    assert (depot.chargers, depot.faulted, depot.offline, depot.degraded) == (3, 1, 1, 0)
    assert (yard.chargers, yard.faulted, yard.degraded, yard.active_alerts) == (1, 0, 1, 1)
    html = response.content.decode()
    assert f"/devices/?site={fleets['depot'].site_id}&amp;health=faulted" in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, ["Acme Depot", "Acme Yard"]),
        ({"sort": "-name"}, ["Acme Yard", "Acme Depot"]),
        ({"sort": "-chargers"}, ["Acme Depot", "Acme Yard"]),
        ({"sort": "-degraded"}, ["Acme Yard", "Acme Depot"]),
        ({"q": "yard"}, ["Acme Yard"]),
        ({"health": "faulted"}, ["Acme Depot"]),
        ({"health": "degraded"}, ["Acme Yard"]),
        ({"status": "inactive"}, []),
    ],
)
def test_sites_sort_and_filter(fleets, signed_in, query, expected):
    assert sites_listed(signed_in("Acme Charging").get("/sites/", query)) == expected


def test_the_sites_csv_holds_the_lists_selection(fleets, signed_in):
    body = signed_in("Acme Charging").get("/sites.csv", {"sort": "-name"}).getvalue().decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["site"] for row in rows] == ["Acme Yard", "Acme Depot"]
    assert (rows[1]["chargers"], rows[1]["faulted"], rows[1]["offline"]) == ("3", "1", "1")


# --- Navigation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, current",
    [("/", "Fleet"), ("/sites/", "Sites"), ("/devices/", "Chargers"), ("/alerts/", "Alerts")],
)
def test_the_navigation_marks_the_current_page(fleets, signed_in, path, current):
    html = signed_in("Acme Charging").get(path).content.decode()
    nav = html[html.index('class="main-nav"') : html.index("</nav>")]
    assert nav.count('aria-current="page"') == 1
    assert f'aria-current="page">{current}</a>' in nav


def test_a_chargers_page_marks_the_chargers_section(fleets, signed_in):
    html = signed_in("Acme Charging").get(f"/devices/{fleets['hot'].device_id}/").content.decode()
    nav = html[html.index('class="main-nav"') : html.index("</nav>")]
    assert 'aria-current="true">Chargers</a>' in nav


# --- Every filter that takes a charger takes its serial too --------------------------------


def test_commands_records_runs_and_audit_take_a_chargers_serial(fleets, signed_in, make_client):
    acme, _ = make_client("Acme Charging")
    hot, healthy = fleets["hot"], fleets["healthy"]
    actor = Actor.for_client(acme)
    mine = queue_command(actor, hot, "start_charging", {}, connector_id=1)
    other = queue_command(actor, healthy, "start_charging", {}, connector_id=1)
    begin = timezone.now() - timezone.timedelta(hours=2)
    record, _ = store_charging_record(
        hot.device_id,
        {
            "record_id": "rec-hot-1", "connector_id": 1, "start_time": begin,
            "end_time": begin + timezone.timedelta(minutes=30), "energy": 12.5,
            "max_power": 11.0, "avg_power": 7.4, "meter_start": 100.0, "meter_end": 112.5,
            "stop_reason": "ev_disconnected",
        },
    )  # fmt: skip
    browser = signed_in("Acme Charging", "admin")

    commands = browser.get("/commands/", {"device": hot.sn.lower()})
    assert [c.command_id for c in commands.context["page"].items] == [mine.command_id]
    assert other.command_id not in commands.content.decode()
    assert f'value="{hot.sn}"' in commands.content.decode()  # the chosen charger by its serial

    records = browser.get("/records/", {"device": hot.sn})
    assert [r.record_id for r in records.context["page"].items] == [record.record_id]
    assert "rec-hot-1" in browser.get("/records.csv", {"device": hot.sn}).getvalue().decode()

    runs = browser.get("/runs/", {"device": hot.sn})
    assert runs.status_code == 200 and runs.context["chosen_charger"] == hot

    by_id = browser.get("/audit/", {"subject_id": hot.device_id}).context["page"]
    by_serial = browser.get("/audit/", {"subject_id": hot.sn}).context["page"]
    assert by_id.total > 0
    assert [e.pk for e in by_serial.items] == [e.pk for e in by_id.items]


def test_another_operators_serial_matches_nothing_in_the_filters(fleets, signed_in, make_client):
    rival, _ = make_client("Rival Energy")
    theirs = fleets["theirs"]
    queue_command(Actor.for_client(rival), theirs, "start_charging", {}, connector_id=1)
    browser = signed_in("Acme Charging", "admin")
    assert browser.get("/commands/", {"device": theirs.sn}).context["page"].total == 0
    assert browser.get("/records/", {"device": theirs.sn}).context["page"].total == 0
    assert browser.get("/audit/", {"subject_id": theirs.sn}).context["page"].total == 0


def test_a_list_page_costs_the_same_queries_for_few_chargers_or_many(
    fleets, signed_in, assigned_device, make_client
):
    browser = signed_in("Acme Charging")

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.get(path).status_code == 200
        return len(captured.captured_queries)

    few = {path: queries(path) for path in ("/", "/devices/", "/sites/")}
    acme, _ = make_client("Acme Charging")
    for n in range(5, 45):
        device = assigned_device(acme, fleets["depot"], sn=f"ACME-{n:04d}")
        open_alert(device, ("medium", "high")[n % 2], "Something is wrong")
        Connector.objects.create(device=device, connector_id=1, state=ConnectorState.FAULT)
    assert {path: queries(path) for path in few} == few
