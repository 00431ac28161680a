"""The Sites and Chargers lists and the health of a charger in Chromium, at a 1024x768
tablet and a 1440x900 desktop: the fleet's faulted tile leads to the faulted chargers,
a header click sorts, nothing scrolls sideways (the Runbooks page included), and the
charger page opens with what is wrong.

Screenshots go to the `shots` folder (TELLUS_SCREENSHOT_DIR) as lists-<size>-<page>.png."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from diagnostics.models import Alert
from fleet.models import Device
from tests.console.test_browser_flows import (  # noqa: F401 (fixtures)
    TABLET,
    browser,
    scene,
    server,
    shots,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1440, "height": 900}
OVERHEAT = "Connector 1 cut out at 85 °C"


def overheating(scene) -> Device:
    device = Device.objects.select_related("site").get(pk=scene["device_id"])
    now = timezone.now()
    Alert.objects.create(
        alert_id="alr_browser_hot",
        operator=device.site.operator,
        device=device,
        site=device.site,
        detector="over_temperature",
        subject=f"{device.device_id}:1",
        severity="high",
        status="open",
        title=OVERHEAT,
        first_seen=now,
        last_seen=now,
        window_start=now,
    )
    return device


def fits_sideways(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("size, viewport", [("tablet", TABLET), ("desktop", DESKTOP)])
def test_the_faulted_tile_leads_to_the_faulted_charger_and_its_banner(
    server, scene, browser, shots, size, viewport
):
    device = overheating(scene)
    page = sign_in(browser, server, "victor", viewport=viewport)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.get_by_role("link", name="1 faulted").click()
    page.wait_for_url("**/devices/?health=faulted")
    expect(page.locator("nav.main-nav a[aria-current=page]")).to_have_text("Chargers")
    row = page.locator("#charger-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(device.sn)
    expect(row).to_contain_text(OVERHEAT)
    assert fits_sideways(page)
    page.screenshot(path=shots / f"lists-{size}-chargers-faulted.png", full_page=True)

    row.get_by_role("link", name=device.sn).click()
    expect(page.locator("#device-status .badge")).to_have_text("faulted")
    expect(page.locator("#device-status .banner")).to_contain_text(OVERHEAT)
    assert fits_sideways(page)
    page.screenshot(path=shots / f"lists-{size}-charger.png")
    assert errors == []


@pytest.mark.parametrize("size, viewport", [("tablet", TABLET), ("desktop", DESKTOP)])
def test_the_lists_sort_by_a_header_and_fit_the_screen(
    server, scene, browser, shots, size, viewport
):
    page = sign_in(browser, server, "victor", viewport=viewport)
    for name, path in (("sites", "/sites/"), ("chargers", "/devices/"), ("runbooks", "/runbooks/")):
        page.goto(server.url + path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert fits_sideways(page), f"{path} scrolls sideways at {viewport}"
        page.screenshot(path=shots / f"lists-{size}-{name}.png", full_page=True)

    page.goto(f"{server.url}/sites/")
    page.get_by_role("link", name="Site", exact=True).click()  # ascending already: reverses
    expect(page).to_have_url(f"{server.url}/sites/?sort=-name")
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Site")
    expect(page.locator("#site-table tbody tr")).to_contain_text("Acme Depot")
