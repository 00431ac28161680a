"""The console's main flows in a real browser: Debian's Chromium driven by Playwright
against a live server, with the test acting as the charger over the charger API.

Screenshots of the pages are saved to TELLUS_SCREENSHOT_DIR when it is set (the docs'
come from `TELLUS_SCREENSHOT_DIR=docs/screenshots`), else beside the test's files.
"""

import os
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect, sync_playwright

from console.web.services.people import create_console_user
from diagnostics.services import detectors
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.actors import Actor
from fleet.services import provisioning
from tests import markers
from tests.factories import CONSOLE_PASSWORD as PASSWORD
from tests.live_server import LiveServer, shared_server

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TABLET = {"width": 1024, "height": 768}


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[LiveServer]:
    """One console server for the module's tests (each test starts from an empty database)."""
    log = tmp_path_factory.mktemp("browser") / "server.log"
    with shared_server(django_db_blocker, log) as live:
        yield live


@pytest.fixture
def scene(server, make_client, site_for, register_device, monkeypatch) -> dict:
    """Acme's depot with one charger reporting, and an operator and a viewer to sign in."""
    # The ORM runs beside Playwright's sync API (an event loop on this thread).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    client, _ = make_client("Acme Charging")
    depot = site_for(client, "Acme Depot", power_capacity=150.0)
    registration = register_device(model="TP-DC180", firmware_version="3.1.0")
    provisioning.assign_device(Actor.platform(), registration["device_id"], depot.site_id)
    for username, role in (("olivia", "operator"), ("victor", "viewer"), ("erin", "engineer")):
        create_console_user(Actor.platform(), username, "Acme Charging", role, password=PASSWORD)
    load_faults()
    load_runbooks()
    charger = Charger(server.url, registration)
    charger.post(
        "/v1/device/heartbeat",
        {"timestamp": timezone.now().isoformat(), "status": "online", "fault_code": 0},
    )
    charger.telemetry(power=7.0)
    return {"charger": charger, "site": depot, "device_id": registration["device_id"]}


class Charger:
    """The test's charger: the charger API over HTTP, as a real unit calls it."""

    def __init__(self, base_url: str, registration: dict):
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.device_id = registration["device_id"]
        answer = self.http.post(
            "/v1/device/token",
            json={
                "device_id": registration["device_id"],
                "device_secret": registration["device_secret"],
                "grant_type": "client_credentials",
            },
        )
        assert answer.status_code == 200, answer.text
        self.http.headers["Authorization"] = f"Bearer {answer.json()['data']['access_token']}"

    def post(self, path: str, body: dict) -> dict:
        answer = self.http.post(path, json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def telemetry(self, power: float, state: str = "charging") -> None:
        self.post(
            "/v1/device/telemetry",
            {
                "timestamp": timezone.now().isoformat(),
                "connector_id": 1,
                "state": state,
                "voltage": 400.0,
                "current": round(power * 1000 / 400, 1),
                "power": power,
                "energy_delivered": 2.5,
                "soc": 48,
                "temperature": 31.0,
            },
        )

    def fault(self, code: str) -> None:
        self.post(
            "/v1/device/events",
            {
                "timestamp": timezone.now().isoformat(),
                "event_type": "fault",
                "connector_id": 1,
                "data": {"fault_code": code, "message": "reported by the test charger"},
            },
        )

    def next_command(self) -> dict:
        answer = self.http.get("/v1/device/commands", params={"connector_id": 1, "wait": 20})
        assert answer.status_code == 200, answer.text
        command = answer.json()["data"]
        assert command is not None, "no command reached the charger"
        return command

    def report(self, command: dict, status: str) -> None:
        self.post(
            "/v1/device/command-status",
            {
                "command_id": command["command_id"],
                "status": status,
                "timestamp": timezone.now().isoformat(),
            },
        )


def sweep_now() -> None:
    """What the worker's detector sweep does every minute, now: on a thread of its own, as
    publishing from sync code may not share a thread with Playwright's event loop."""

    def sweep() -> None:
        try:
            detectors.run_detector(detectors.repeat_fault, timezone.now())
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(sweep).result()


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, closed afterwards (the browser tests' one launch)."""
    assert shutil.which(CHROMIUM), "browser tests need Debian's Chromium: apt-get install chromium"
    markers.require("browser", "Chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser(scene) -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("TELLUS_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(browser: Browser, server: LiveServer, username: str, viewport=TABLET) -> Page:
    page = browser.new_page(viewport=viewport)
    page.goto(f"{server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")
    return page


def live(page: Page) -> None:
    """The page's socket is open and subscribed."""
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=15_000)


def test_signing_in_shows_the_fleet(server, scene, browser, shots):
    page = sign_in(browser, server, "victor")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fleet")
    expect(page.locator(f'#device-table a[href="/devices/{scene["device_id"]}/"]')).to_be_visible()
    page.screenshot(path=shots / "fleet.png", full_page=True)


def test_a_connectors_power_changes_on_the_page_when_the_charger_reports(
    server, scene, browser, shots
):
    page = sign_in(browser, server, "victor")
    page.goto(f"{server.url}/devices/{scene['device_id']}/")
    expect(page.locator("#connectors")).to_contain_text("7.0 kW")
    live(page)
    scene["charger"].telemetry(power=42.5)
    # No reload: the fragment arrives over the socket.
    expect(page.locator("#connectors")).to_contain_text("42.5 kW", timeout=10_000)
    page.screenshot(path=shots / "device.png", full_page=True)


def test_start_goes_queued_accepted_completed_while_the_charger_answers(server, scene, browser):
    page = sign_in(browser, server, "olivia")
    page.goto(f"{server.url}/devices/{scene['device_id']}/")
    actions = page.locator("section", has=page.get_by_role("heading", name="Remote actions"))
    actions.get_by_text("Start", exact=True).first.click()
    expect(actions.get_by_text("Sends start_charging to connector 1")).to_be_visible()
    actions.get_by_role("button", name="Start charging").click()
    expect(page.locator(".flash")).to_contain_text("queued")
    commands = page.locator("#device-commands")
    expect(commands).to_contain_text("queued")
    live(page)

    charger = scene["charger"]
    command = charger.next_command()
    assert command["command"] == "start_charging"
    charger.report(command, "accepted")
    expect(commands.locator(".badge").first).to_have_text("accepted", timeout=10_000)
    charger.report(command, "completed")
    expect(commands.locator(".badge").first).to_have_text("completed", timeout=10_000)
    expect(commands.locator(".history").first).to_contain_text(
        re.compile("queued.*accepted.*completed", re.S)
    )


def test_a_medium_risk_diagnostic_is_confirmed_then_followed_to_completion(
    server, scene, browser, shots
):
    page = sign_in(browser, server, "olivia")
    page.goto(f"{server.url}/devices/{scene['device_id']}/")
    diagnostics = page.locator("#diagnostics")
    diagnostics.screenshot(path=shots / "device-diagnostics.png")
    diagnostics.get_by_label(re.compile("run_self_test")).check()
    diagnostics.get_by_role("button", name="Send").click()
    confirmation = page.locator(".card.confirm")
    expect(confirmation).to_contain_text("cannot charge for about 2 minutes")
    page.screenshot(path=shots / "device-diagnostic-confirm.png")
    confirmation.get_by_role("button", name="Send run_self_test").click()
    expect(page.locator(".flash")).to_contain_text("run_self_test (medium risk) queued")
    live(page)

    charger = scene["charger"]
    command = charger.next_command()
    assert command["command"] == "run_self_test"
    charger.report(command, "completed")
    commands = page.locator("#device-commands")
    expect(commands.locator(".badge").first).to_have_text("completed", timeout=10_000)


def test_a_viewer_sees_no_actions_and_is_refused_when_posting_anyway(server, scene, browser):
    page = sign_in(browser, server, "victor")
    page.goto(f"{server.url}/devices/{scene['device_id']}/")
    expect(page.locator("#connectors")).to_be_visible()
    expect(page.get_by_role("heading", name="Remote actions")).to_have_count(0)
    expect(page.get_by_role("button", name="Start charging")).to_have_count(0)
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{server.url}/devices/{scene['device_id']}/start/",
        form={"connector_id": "1"},
        headers={"X-CSRFToken": csrf, "Referer": f"{server.url}/"},
    )
    assert refused.status == 403
    charger = scene["charger"]
    answer = charger.http.get("/v1/device/commands", params={"connector_id": 1, "wait": 1})
    assert answer.json()["data"] is None, "the refused start reached the charger"


def test_a_new_alert_appears_in_the_inbox_and_is_acknowledged(server, scene, browser, shots):
    page = sign_in(browser, server, "erin")
    page.goto(f"{server.url}/alerts/")
    expect(page.locator("#alert-list")).to_contain_text("No active alerts")
    live(page)
    charger = scene["charger"]
    for _ in range(3):
        charger.fault("F-0411")
    sweep_now()
    alert = page.locator("#alert-items > tr.alert-row").first
    expect(alert).to_contain_text("F-0411", timeout=10_000)
    alert.locator("summary").click()  # its evidence, history and actions open beneath it
    evidence = page.locator("#alert-items > tr.alert-more").first
    acknowledging = evidence.locator("details", has=page.get_by_text("Acknowledge", exact=True))
    acknowledging.locator("summary").click()
    acknowledging.get_by_label("Note (required)").fill("On site at 14:00, replacing the contactor")
    acknowledging.get_by_role("button", name="Acknowledge").click()
    expect(evidence).to_contain_text("replacing the contactor", timeout=10_000)
    expect(alert.locator(".badge")).to_have_text("acknowledged")
    page.screenshot(path=shots / "alerts.png", full_page=True)


@pytest.mark.parametrize(
    "name, path",
    [
        ("site", "/sites/{site_id}/"),
        ("commands", "/commands/"),
        ("records", "/records/"),
        ("energy", "/energy/"),
        ("people", "/people/"),
        ("audit", "/audit/"),
    ],
)
def test_the_other_pages_render_for_an_admin(server, scene, browser, shots, name, path):
    create_console_user(Actor.platform(), "ada", "Acme Charging", "admin", password=PASSWORD)
    page = sign_in(browser, server, "ada", viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    response = page.goto(server.url + path.format(site_id=scene["site"].site_id))
    assert response.status == 200
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.screenshot(path=shots / f"{name}.png", full_page=True)
    assert errors == []
