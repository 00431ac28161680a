"""From diagnosis to fix in a real browser: an operator runs the power-up runbook on a
charger of an F-0421 cluster on 3.0.1; the run ends "diagnosed — action needed" with the
upgrade to do; the rollout is started from the run's outcome; the charger takes the
upgrade over the charger API (as a unit does: command, download, install, success) and
charges on the new build; running the runbook again verifies the fix and resolves.

Same setup as test_browser_flows.py: Debian's Chromium, a live server, the test acting as
the chargers over the charger API. The campaign's driver (a Celery beat task in
production) is called in the test's process."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fleet.actors import Actor
from fleet.models import Device
from fleet.services import provisioning
from fleet.services.firmware_campaigns import drive_campaigns
from tests.console.test_browser_flows import (  # noqa: F401 (fixtures)
    Charger,
    browser,
    live,
    scene,
    server,
    shots,
    sign_in,
)
from tests.console.test_browser_runs import start_power_up_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cluster(server, scene, site_for, register_device):
    """Three TP-DC180 on 3.0.1 at three sites, each reporting F-0421 twice: the firmware
    cluster of the dictionary's known issue (3.0.0-3.0.2, fixed in 3.0.3)."""
    client = scene["site"].operator.clients.first()
    chargers = []
    for name in ("Harbour", "North Yard", "Station Road"):
        registration = register_device(model="TP-DC180", firmware_version="3.0.1")
        provisioning.assign_device(
            Actor.platform(), registration["device_id"], site_for(client, name).site_id
        )
        charger = Charger(server.url, registration)
        online(charger)
        charger.fault("F-0421")
        charger.fault("F-0421")
        chargers.append(charger)
    return chargers


def online(charger: Charger) -> None:
    charger.post(
        "/v1/device/heartbeat",
        {"timestamp": timezone.now().isoformat(), "status": "online", "fault_code": 0},
    )


def follow(page, verdict: str) -> None:
    """The step's check ran on arrival with `verdict`; press the primary button."""
    expect(page.locator("#step-check")).to_contain_text(verdict, timeout=10_000)
    page.get_by_role("button", name="Follow the check's result").click()


def to_the_rollout_step(page) -> None:
    page.get_by_role("button", name=re.compile("Measured: all phases present")).click()
    follow(page, "Pattern found")  # F-0421 repeated: on to the fleet-wide search
    expect(page.locator("#current-heading")).to_contain_text("firmware cluster")
    follow(page, "Found: F-0421 on 3 chargers running 3.0.1 at 3 sites")
    expect(page.locator("#current-heading")).to_contain_text("Roll out the fixed firmware")


def test_an_f0421_run_is_diagnosed_the_rollout_starts_from_it_and_a_run_after_it_resolves(
    server, scene, cluster, browser, shots
):
    first = cluster[0]
    page = sign_in(browser, server, "olivia")
    start_power_up_run(page, server, first.device_id)
    to_the_rollout_step(page)
    follow(page, "Upgrade needed")

    outcome = page.locator("#ended-heading")
    expect(outcome).to_have_text("Diagnosed — action needed")
    expect(page.locator(".outcome")).to_contain_text(
        "Upgrade to 3.0.3 or later (the latest stable build for TP-DC180 is 3.1.0)"
    )
    page.screenshot(path=shots / "run-diagnosed-1024.png", full_page=True)
    run_url = page.url
    page.get_by_role(
        "link", name="Start a firmware rollout for the TP-DC180 chargers on 3.0.1"
    ).click()
    expect(page.get_by_label("Target version")).to_have_value("3.1.0")
    page.get_by_label("Package URL").fill("https://firmware.example.com/tp-dc180/3.1.0.bin")
    page.get_by_label("Stages (% of the chargers, cumulative)").fill("100")
    page.get_by_role("button", name="Review the plan").click()
    expect(page.locator(".plan")).to_contain_text("Upgrade 3 chargers (TP-DC180 on 3.0.1")
    page.get_by_role("button", name="Start: upgrade 3 chargers").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("3.1.0")

    # The platform sends the upgrade; the charger carries it out as a unit does.
    drive_campaigns()
    upgrade = first.next_command()
    assert upgrade["command"] == "firmware_upgrade"
    assert upgrade["params"]["firmware_version"] == "3.1.0"
    first.report(upgrade, "accepted")
    for progress in (0, 50, 100):
        first.post(
            "/v1/device/firmware/status",
            {"firmware_version": "3.1.0", "status": "downloading", "progress": progress},
        )
    first.post("/v1/device/firmware/status", {"firmware_version": "3.1.0", "status": "upgrading"})
    first.post("/v1/device/firmware/status", {"firmware_version": "3.1.0", "status": "success"})
    first.report(upgrade, "completed")
    assert Device.objects.get(pk=first.device_id).firmware_version == "3.1.0"
    row = page.locator(f"#campaign-device-{first.device_id}")
    expect(row).to_contain_text("upgraded", timeout=10_000)

    # Back at the run: running it again, the fix is verified on the new build.
    page.goto(run_url)
    page.get_by_role("button", name="Run this runbook again to verify the fix").click()
    to_the_rollout_step(page)
    follow(page, "Firmware current")
    expect(page.locator("#current-heading")).to_contain_text("Verify the fix")
    expect(page.locator("#step-check")).to_contain_text("Waiting", timeout=10_000)
    expect(page.get_by_role("button", name="Follow the check's result")).to_have_count(0)

    online(first)
    first.telemetry(power=50.0)  # a session on 3.1.0, with no F-0421
    page.get_by_role("button", name="Check again").first.click()
    follow(page, "Fixed")
    expect(page.locator("#ended-heading")).to_have_text("Resolved")
    expect(page.locator(".outcome")).to_contain_text("F-0421 cleared by the firmware upgrade")
    page.screenshot(path=shots / "run-resolved-after-fix-1024.png", full_page=True)
