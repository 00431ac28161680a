"""The Firmware pages in a real browser: an operator follows F-0421's upgrade offer to the
prefilled start form, reads the plan, starts the campaign, and watches a charger's
firmware report move its row on the open campaign page without a reload; a viewer reads
the campaign without its buttons. Screenshots at 1024x768 and 1440x900
(TELLUS_SCREENSHOT_DIR keeps them).

Same setup as test_browser_flows.py: Debian's Chromium, a live server, the test acting as
the chargers over the charger API."""

import pytest
from playwright.sync_api import expect

from fleet.actors import Actor
from fleet.services import provisioning
from tests.console.test_browser_flows import (  # noqa: F401 (fixtures)
    Charger,
    browser,
    live,
    scene,
    server,
    shots,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1440, "height": 900}
TABLET = {"width": 1024, "height": 768}


@pytest.fixture
def affected(server, scene, register_device):
    """Three TP-DC180 of Acme's depot on 3.0.1, inside F-0421's known issue, reporting."""
    chargers = []
    for _ in range(3):
        registration = register_device(model="TP-DC180", firmware_version="3.0.1")
        provisioning.assign_device(
            Actor.platform(), registration["device_id"], scene["site"].site_id
        )
        chargers.append(Charger(server.url, registration))
    return chargers


def test_an_operator_starts_a_campaign_from_the_fault_and_watches_it_move(
    server, scene, affected, browser, shots
):
    page = sign_in(browser, server, "olivia", viewport=DESKTOP)
    page.goto(f"{server.url}/firmware/")
    versions = page.locator(
        "section", has=page.get_by_role("heading", name="Versions in your fleet")
    )
    expect(versions).to_contain_text("3.0.1 — 3 chargers")
    expect(versions).to_contain_text("Known issue: F-0421")
    page.screenshot(path=shots / "firmware-1440.png", full_page=True)

    page.goto(f"{server.url}/faults/F-0421/")
    page.get_by_role("link", name="Upgrade the 3 TP-DC180 chargers on 3.0.1 to 3.1.0").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("to fix F-0421")
    expect(page.get_by_label("Target version")).to_have_value("3.1.0")
    page.get_by_label("Package URL").fill("https://firmware.example.com/tp-dc180/3.1.0.bin")
    page.get_by_label("Stages (% of the chargers, cumulative)").fill("100")
    page.screenshot(path=shots / "firmware-new-1440.png", full_page=True)
    page.get_by_role("button", name="Review the plan").click()
    plan = page.locator(".plan")
    expect(plan).to_contain_text(
        "Upgrade 3 chargers (TP-DC180 on 3.0.1, at Acme Depot) to 3.1.0 to fix F-0421 "
        "in 1 stage: all 3 now."
    )
    page.screenshot(path=shots / "firmware-confirm-1440.png", full_page=True)
    page.get_by_role("button", name="Start: upgrade 3 chargers").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("TP-DC180 to 3.1.0 (fix F-0421)")
    live(page)
    first = affected[0]
    row = page.locator(f"#campaign-device-{first.device_id}")
    expect(row).not_to_contain_text("downloading")
    first.post(
        "/v1/device/firmware/status",
        {"firmware_version": "3.1.0", "status": "downloading", "progress": 40},
    )
    expect(row).to_contain_text("downloading 40 %", timeout=10_000)
    first.post("/v1/device/firmware/status", {"firmware_version": "3.1.0", "status": "success"})
    expect(row).to_contain_text("upgraded", timeout=10_000)
    expect(page.locator("#campaign-stages")).to_contain_text("1 of 3 finished", timeout=10_000)
    page.screenshot(path=shots / "firmware-campaign-1440.png", full_page=True)

    viewer = sign_in(browser, server, "victor", viewport=TABLET)
    viewer.goto(page.url)
    expect(viewer.locator("#campaign-devices")).to_contain_text("upgraded")
    expect(viewer.get_by_role("button", name="Pause")).to_have_count(0)
    viewer.screenshot(path=shots / "firmware-campaign-1024.png", full_page=True)
    viewer.goto(f"{server.url}/firmware/")
    viewer.screenshot(path=shots / "firmware-1024.png", full_page=True)
    expect(viewer.get_by_role("link", name="Start a campaign")).to_have_count(0)
