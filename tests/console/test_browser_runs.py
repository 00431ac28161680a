"""A runbook run in a real browser, as a field engineer with a tablet would carry it:
started from the charger's page, its checks run on arrival with their evidence, the
F-0421 firmware-cluster route taken, a step command followed to completion, escalated
to a printable checklist; and a viewer who can read the run but not act on it.

Same setup as test_browser_flows.py: Debian's Chromium, a live server, the test acting
as the charger over the charger API."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fleet.models import DeviceEvent
from tests.console.test_browser_flows import (  # noqa: F401 (fixtures)
    browser,
    live,
    scene,
    server,
    shots,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cluster(scene, make_client, site_for, assigned_device):
    """F-0421 twice on the scene's charger (firmware 3.1.0) and once on a peer at another
    site on the same firmware: the pattern of a firmware bug, not of one unit."""
    charger = scene["charger"]
    charger.fault("F-0421")
    charger.fault("F-0421")
    client = scene["site"].operator.clients.first()
    peer = assigned_device(client, site_for(client, "North Yard"), firmware_version="3.1.0")
    DeviceEvent.objects.create(
        device=peer, connector_id=1, event_type="fault", fault_code="F-0421",
        timestamp=timezone.now(),
    )  # fmt: skip
    return scene


def start_power_up_run(page, server, device_id):
    page.goto(f"{server.url}/devices/{device_id}/")
    suggested = page.locator("ol.runbooks li", has_text="Charger faults after power-up")
    suggested.get_by_role("button", name="Start a run").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Charger faults after power-up")


def test_the_firmware_cluster_route_is_taken_with_its_evidence_then_escalated(
    server, cluster, browser, shots
):
    page = sign_in(browser, server, "erin")
    start_power_up_run(page, server, cluster["device_id"])
    check = page.locator("#step-check")
    # The supply check runs as the engineer arrives; no envelope is known: unknown.
    expect(check).to_contain_text("Cannot decide", timeout=10_000)
    page.get_by_role("button", name=re.compile("Measured: all phases present")).click()

    expect(page.locator("#current-heading")).to_contain_text("Read the fault log")
    expect(check).to_contain_text("F-0421 repeated (a cluster)", timeout=10_000)
    page.get_by_role("button", name="Follow the check's result").click()

    expect(page.locator(".moves")).to_contain_text(
        "Read the fault log → Look for a firmware cluster of F-0421"
    )
    expect(page.locator(".moves")).to_contain_text("its pattern is F-0421 repeated (a cluster)")
    expect(check).to_contain_text("Found: F-0421 on 2 chargers running 3.1.0", timeout=10_000)
    expect(check.locator("table")).to_contain_text("3.1.0")  # the versions it compared
    page.screenshot(path=shots / "run.png", full_page=True)

    page.locator("details", has_text="Escalate to").locator("summary").click()
    page.get_by_label(re.compile("Note for")).fill("Same build on two sites: firmware team")
    page.get_by_role("button", name="Escalate").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Escalation to")
    expect(page.locator("article")).to_contain_text("firmware team")
    expect(page.locator("article")).to_contain_text("F-0421")
    page.screenshot(path=shots / "escalation.png", full_page=True)
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    page.screenshot(path=shots / "escalation-print.png", full_page=True)


def test_a_step_command_status_arrives_while_the_charger_answers(server, scene, browser):
    scene["charger"].fault("F-0411")
    page = sign_in(browser, server, "erin")
    start_power_up_run(page, server, scene["device_id"])
    page.get_by_role("button", name=re.compile("Measured: all phases present")).click()
    expect(page.locator("#step-check")).to_contain_text("a single F-0411", timeout=10_000)
    page.get_by_role("button", name="Follow the check's result").click()
    expect(page.locator("#current-heading")).to_contain_text("firmware")
    expect(page.locator("#step-check")).to_contain_text("Firmware current", timeout=10_000)
    page.get_by_role("button", name="Follow the check's result").click()
    expect(page.locator("#current-heading")).to_contain_text("reboot")

    page.get_by_role("button", name="Send reboot (low risk)").click()
    status = page.locator("#run-command")
    expect(status).to_contain_text("queued")
    live(page)
    charger = scene["charger"]
    command = charger.next_command()
    assert command["command"] == "reboot"
    charger.report(command, "accepted")
    expect(status.locator(".badge")).to_have_text("accepted", timeout=10_000)
    charger.report(command, "completed")
    expect(status.locator(".badge")).to_have_text("completed", timeout=10_000)


def test_a_viewer_reads_a_run_but_cannot_act(server, scene, browser):
    engineer = sign_in(browser, server, "erin")
    scene["charger"].fault("F-0421")
    start_power_up_run(engineer, server, scene["device_id"])
    run_url = engineer.url

    viewer = sign_in(browser, server, "victor")
    viewer.goto(run_url)
    expect(viewer.locator("#current-heading")).to_contain_text("Check the incoming supply")
    expect(viewer.get_by_text("acting on it needs the engineer role")).to_be_visible()
    expect(viewer.get_by_role("button", name=re.compile("Measured"))).to_have_count(0)
    expect(viewer.get_by_role("heading", name="End the run")).to_have_count(0)
    csrf = next(c["value"] for c in viewer.context.cookies() if c["name"] == "csrftoken")
    refused = viewer.request.post(
        run_url + "resolve/",
        form={"note": "not mine to close"},
        headers={"X-CSRFToken": csrf, "Referer": run_url},
    )
    assert refused.status == 403
    viewer.reload()
    expect(viewer.locator("h1 .badge")).to_have_text("open")
