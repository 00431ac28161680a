"""The fault pages in a real browser (Debian's Chromium driven by Playwright against a
live server): a cluster of chargers raising F-0421 on several firmware versions, seen
on the code's entry as a firmware chart with the affected versions marked; the
dictionary searched by HTMX; the undocumented codes a charger sent.

Screenshots go to TELLUS_SCREENSHOT_DIR when it is set, like the other browser tests.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from fleet.actors import Actor
from fleet.models import DeviceEvent
from fleet.services import provisioning
from tests.console.test_browser_flows import (  # noqa: F401 - fixtures shared with the flows
    browser,
    scene,
    server,
    shots,
    sign_in,
)
from tests.live_server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

# Firmware of the chargers raising F-0421: 3.0.0 to 3.0.2 are inside its known issue.
CLUSTER = ["3.0.1"] * 4 + ["3.0.2"] * 2 + ["3.0.10"] + ["3.1.0"] * 3


@pytest.fixture
def cluster(scene, register_device) -> dict:
    """Ten more chargers at Acme's depot raising F-0421 over the last days, and the
    scene's charger sending a code the dictionary lacks."""
    now = timezone.now()
    serials = []
    for n, firmware in enumerate(CLUSTER):
        registration = register_device(model="TP-DC180", firmware_version=firmware)
        device = provisioning.assign_device(
            Actor.platform(), registration["device_id"], scene["site"].site_id
        )
        serials.append(device.sn)
        for k in range(1 + n % 3):
            DeviceEvent.objects.create(
                device=device,
                connector_id=1,
                event_type="fault",
                fault_code="F-0421",
                timestamp=now - timedelta(hours=5 + 31 * k + n),
                data={"fault_code": "F-0421"},
            )
    scene["charger"].fault("1001")
    return {**scene, "serials": serials}


def errors_of(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_the_entry_shows_the_firmware_of_a_cluster(
    server: LiveServer, cluster, browser: Browser, shots
):
    page = sign_in(browser, server, "victor", viewport={"width": 1280, "height": 900})
    errors = errors_of(page)
    page.goto(f"{server.url}/faults/F-0421/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("F-0421")
    chart = page.locator("svg.version-chart")
    expect(chart).to_be_visible()
    for version, words in (
        ("3.0.1", "4 chargers · affected"),
        ("3.0.2", "2 chargers · affected"),
        ("3.0.10", "1 charger · not affected"),
        ("3.1.0", "3 chargers · not affected"),
    ):
        row = chart.locator("g.version-row", has=page.locator(f"text.version >> text='{version}'"))
        expect(row.locator("text.count")).to_have_text(words)
    expect(chart.locator("rect.hatched")).to_have_count(2)
    devices = page.locator(
        "section", has=page.get_by_role("heading", name="Chargers that raised it", exact=True)
    )
    expect(devices.locator("tbody tr")).to_have_count(len(CLUSTER))
    expect(devices).to_contain_text("affected")
    page.screenshot(path=shots / "fault-entry.png", full_page=True)
    # The same page at tablet width.
    page.set_viewport_size({"width": 1024, "height": 768})
    chart.screenshot(path=shots / "fault-entry-chart-tablet.png")
    page.screenshot(path=shots / "fault-entry-tablet.png", full_page=True)
    assert errors == []


def test_the_dictionary_is_searched_in_place(server: LiveServer, cluster, browser: Browser, shots):
    page = sign_in(browser, server, "victor")
    errors = errors_of(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Faults").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fault dictionary")
    table = page.locator("#fault-table")
    expect(table.locator("tbody tr")).to_have_count(12)
    f0421 = table.locator("tr", has=page.get_by_role("link", name="F-0421"))
    expect(f0421.locator("td").last).to_have_text(str(sum(1 + n % 3 for n in range(len(CLUSTER)))))
    page.screenshot(path=shots / "faults.png", full_page=True)
    page.get_by_label("Code or words").fill("contactor")
    expect(table.locator("tbody tr")).to_have_count(2)
    assert "q=contactor" in page.url  # pushed: the filtered list has an address
    page.get_by_label("Severity").select_option("warning")
    expect(table).to_contain_text("No code matches")
    assert errors == []


def test_a_code_the_dictionary_lacks_is_followed_from_the_charger(
    server: LiveServer, cluster, browser: Browser, shots
):
    page = sign_in(browser, server, "erin")
    errors = errors_of(page)
    page.goto(f"{server.url}/devices/{cluster['device_id']}/")
    page.locator("#device-events").get_by_role("link", name="(not in the dictionary)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Undocumented fault codes")
    row = page.locator("tr#code-1001")
    expect(row).to_contain_text("1001")
    # The code (to what Tellus asks for about it) and the charger, linked.
    expect(row.get_by_role("link", name="1001", exact=True)).to_have_count(1)
    expect(row.get_by_role("link", name="what to send Tellus")).to_have_count(1)
    expect(row.get_by_role("link")).to_have_count(3)
    page.screenshot(path=shots / "faults-undocumented.png", full_page=True)
    row.get_by_role("link", name="1001", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Undocumented code 1001")
    expect(page.get_by_role("heading", name="Reports, newest first")).to_be_visible()
    assert errors == []
