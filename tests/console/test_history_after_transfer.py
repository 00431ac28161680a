"""The console after a charger went A → B (→ A): the records page, records.csv, the fault
pages and the fleet page show each operator only what happened under it, A still after
the charger left; the charger's page shows its owners over time to platform staff only."""

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from console.web.access import STAFF_OPERATOR_KEY
from diagnostics.services.loader import load_faults
from tests.history_world import CODES, transferred


@pytest.fixture
def world(make_client, assigned_device, signed_in):
    load_faults()
    a, _ = make_client("Acme Charging")
    b, _ = make_client("Rival Energy")
    device = assigned_device(a)
    return {
        "a": a,
        "b": b,
        "device": device,
        "a_browser": signed_in("Acme Charging"),
        "b_browser": signed_in("Rival Energy"),
    }


def listed_records(browser) -> list[str]:
    response = browser.get("/records/")
    assert response.status_code == 200
    return sorted(r.record_id for r in response.context["page"].items)


def csv_rows(browser, **params) -> list[dict]:
    response = browser.get("/records.csv", params)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_records_page_and_csv_follow_the_operator_of_each_record(world):
    history = transferred(world["a"], world["b"], world["device"], back=False)
    a_browser, b_browser = world["a_browser"], world["b_browser"]
    assert listed_records(a_browser) == ["rec-0"]
    assert listed_records(b_browser) == ["rec-1"]
    page = a_browser.get("/records/").content.decode()
    assert "no longer in your fleet" in page  # and no link to a charger page A cannot open
    assert f'href="/devices/{history.device.device_id}/"' not in page
    # The CSV: the site each record happened at, not the charger's site now.
    rows = csv_rows(a_browser)
    assert [(r["record_id"], r["site_id"]) for r in rows] == [("rec-0", history.a_site.site_id)]
    assert "VIN-OF-PERIOD-1" not in str(rows)
    by_device = csv_rows(a_browser, device=history.device.device_id)
    assert [r["record_id"] for r in by_device] == ["rec-0"]
    rows = csv_rows(b_browser)
    assert [(r["record_id"], r["site_id"], r["site_name"]) for r in rows] == [
        ("rec-1", history.b_site.site_id, "Harbour")
    ]


def test_after_the_round_trip_each_reads_its_own_periods(world):
    transferred(world["a"], world["b"], world["device"])
    assert listed_records(world["a_browser"]) == ["rec-0", "rec-2"]
    assert listed_records(world["b_browser"]) == ["rec-1"]
    assert [r["record_id"] for r in csv_rows(world["b_browser"])] == ["rec-1"]


def test_fault_pages_and_the_fleet_page_count_faults_where_they_happened(world):
    history = transferred(world["a"], world["b"], world["device"], back=False)
    a_browser, b_browser = world["a_browser"], world["b_browser"]
    a_code, b_code = CODES[0], CODES[1]
    # A's fault raised under A: A's entry page counts it, B's does not.
    a_entry = a_browser.get(f"/faults/{a_code}/")
    assert a_entry.status_code == 200
    assert [item["row"].count for item in a_entry.context["devices"]] == [3]
    assert "No longer in your fleet" in a_entry.content.decode()
    b_entry = b_browser.get(f"/faults/{a_code}/")
    assert b_entry.context["devices"] == []
    assert [
        item["row"].count for item in b_browser.get(f"/faults/{b_code}/").context["devices"]
    ] == [3]
    assert a_browser.get(f"/faults/{b_code}/").context["devices"] == []
    # The fleet page's latest faults.
    a_recent = a_browser.get("/").context["overview"].recent_faults
    b_recent = b_browser.get("/").context["overview"].recent_faults
    assert {e.pk for e in a_recent} == history.ids(world["a"].operator_id, "event_ids")
    assert {e.pk for e in b_recent} == history.ids(world["b"].operator_id, "event_ids")


def test_the_chargers_page_shows_only_the_current_operators_events_and_records(world):
    history = transferred(world["a"], world["b"], world["device"])
    page = world["a_browser"].get(f"/devices/{history.device.device_id}/")
    assert page.status_code == 200
    assert {e.pk for e in page.context["events"]} == history.ids(
        world["a"].operator_id, "event_ids"
    )
    assert {r.record_id for r in page.context["records"]} == {"rec-0", "rec-2"}


def test_owners_over_time_are_shown_to_platform_staff_only(world):
    history = transferred(world["a"], world["b"], world["device"])
    url = f"/devices/{history.device.device_id}/"
    member = world["a_browser"].get(url)
    assert member.status_code == 200
    assert "Owners over time" not in member.content.decode()
    staff = get_user_model().objects.create_user("root", password="staff-pass-123", is_staff=True)
    browser = Client()
    browser.force_login(staff)
    session = browser.session
    session[STAFF_OPERATOR_KEY] = world["a"].operator_id
    session.save()
    page = browser.get(url)
    assert page.status_code == 200
    changes = page.context["ownership_changes"]
    # Newest first: back to Acme, then to Rival, then the first placement at Acme.
    assert [(c.operator_before_name, c.operator_after_name) for c in changes] == [
        ("Rival Energy", "Acme Charging"),
        ("Acme Charging", "Rival Energy"),
        ("", "Acme Charging"),
    ]
    text = page.content.decode()
    assert "Owners over time" in text
    assert "Rival Energy, Harbour" in text
    assert "the platform" in text  # who did it, in words
    assert history.b_site.site_id not in text.split("Owners over time")[1]


def test_energy_page_keeps_a_site_that_changed_operator_in_words(world):
    history = transferred(world["a"], world["b"], world["device"], back=False)
    site = history.a_site  # the records of period 0 were made there, under A
    site.operator = world["b"].operator
    site.save()
    window = {"granularity": "day", "start": "2025-03-09T00:00", "end": "2025-03-13T00:00"}
    a_page = world["a_browser"].get("/energy/", window)
    assert a_page.status_code == 200
    shown = [(s.name, s.charge) for s in a_page.context["sites"]]
    assert shown == [(f"{site.name} (no longer yours)", 60.0)]
    assert f'<h2 id="energy-{site.site_id}-heading">{site.name} (no longer yours)</h2>' in (
        a_page.content.decode()
    )
    b_page = world["b_browser"].get("/energy/", window)
    assert [(s.name, s.charge) for s in b_page.context["sites"]] == [("Harbour", 5.0)]
