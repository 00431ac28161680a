"""Live pages in a real browser, for minutes: a charger page stays live while the charger
reports, a page whose user signs out elsewhere stops within the access recheck, a page
whose updates stop arriving says so and reconnects, and events redraw what they change
without a reload (a stop, a command's progress, a site control's progress).

Same setup as test_browser_flows.py: Debian's Chromium, a live server, the test acting as
the charger over the charger API."""

import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import Page, WebSocket, WebSocketRoute, expect

from console.web.live import KEEPALIVE, RECHECK_SECONDS
from tests.console.test_browser_flows import (  # noqa: F401 (fixtures)
    browser,
    live,
    scene,
    server,
    shots,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)

WINDOW = 15.0  # seconds: every window of the page's life sees an update


class Frames:
    """Every frame the page's live socket receives, with when it arrived."""

    def __init__(self, page: Page):
        self.received: list[tuple[float, str]] = []
        self.closed_at: float | None = None
        page.on("websocket", self._watch)

    def _watch(self, socket: WebSocket) -> None:
        if "/console/live" not in socket.url:
            return
        socket.on(
            "framereceived", lambda payload: self.received.append((time.monotonic(), payload))
        )
        socket.on("close", lambda _: setattr(self, "closed_at", time.monotonic()))

    def fragments(self, marker: str) -> list[float]:
        return [at for at, payload in self.received if marker in payload]

    def keep_alives(self) -> list[float]:
        return [at for at, payload in self.received if payload == KEEPALIVE]


def windows_without(times: list[float], start: float, end: float) -> list[float]:
    """The starts of the WINDOW-long stretches of [start, end] in which nothing arrived."""
    empty = []
    at = start
    while at + WINDOW <= end:
        if not any(at <= t < at + WINDOW for t in times):
            empty.append(round(at - start))
        at += WINDOW / 3
    return empty


# Every state the top bar's live status takes, in order (a stale state lasts only as long
# as the reconnect takes).
STATE_RECORDER = """
window.liveStates = [];
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("live-status");
  if (!status) return;
  new MutationObserver(() => {
    window.liveStates.push(status.dataset.state + "|" + status.textContent);
  }).observe(status, { attributes: true, childList: true, characterData: true });
});
"""


def stopped(charger) -> None:
    charger.post(
        "/v1/device/events",
        {"timestamp": timezone.now().isoformat(), "event_type": "stop", "connector_id": 1,
         "data": {"reason": "ev_full"}},
    )  # fmt: skip


def test_a_charger_page_stays_live_for_minutes_while_the_charger_reports(server, scene, browser):
    """Past three access rechecks (every 30 s): connector updates in every 15 s window,
    keep-alives in every 15 s window, and the badge says Live throughout."""
    page = sign_in(browser, server, "victor")
    frames = Frames(page)
    page.goto(f"{server.url}/devices/{scene['device_id']}/")
    live(page)
    start = time.monotonic()
    charger = scene["charger"]
    power = 10.0
    while time.monotonic() - start < 3 * RECHECK_SECONDS + 5:
        power = round(power + 0.5, 1)
        charger.telemetry(power=power)
        page.wait_for_timeout(2_000)  # a charger reporting every 2 s
        assert page.locator("#live-status").get_attribute("data-state") == "live"
    end = time.monotonic()
    expect(page.locator("#connectors")).to_contain_text(f"{power:.1f} kW", timeout=5_000)
    assert frames.closed_at is None, "the socket closed while the page was open"
    updates = frames.fragments('id="connectors"')
    assert windows_without(updates, start, end) == [], "a 15 s window without an update"
    assert windows_without(frames.keep_alives(), start, end) == [], "no keep-alive for 15 s"


def test_signing_out_elsewhere_stops_an_open_page_within_the_recheck(server, scene, browser):
    page = sign_in(browser, server, "victor")
    frames = Frames(page)
    page.goto(f"{server.url}/devices/{scene['device_id']}/")
    live(page)
    other_tab = browser.new_context().new_page()  # the same session, in another window
    other_tab.context.add_cookies(page.context.cookies())
    other_tab.goto(f"{server.url}/")
    signed_out_at = time.monotonic()
    other_tab.get_by_role("button", name="Sign out").click()
    other_tab.wait_for_url(re.compile("/login/"))

    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "stopped", timeout=(RECHECK_SECONDS + 5) * 1000)
    expect(status).to_contain_text("sign in again")
    assert frames.closed_at is not None
    assert frames.closed_at - signed_out_at <= RECHECK_SECONDS + 5
    heard = len(frames.received)
    scene["charger"].telemetry(power=55.5)
    page.wait_for_timeout(3_000)
    assert len(frames.received) == heard, "frames arrived after the close"
    expect(page.locator("#connectors")).not_to_contain_text("55.5 kW")


def test_a_page_hearing_nothing_says_its_updates_are_stale_and_reconnects(server, scene, browser):
    """The socket goes through the test: a keep-alive arrives within 15 s; then the test
    stops passing on what the server sends, as a dead proxy would."""
    page = sign_in(browser, server, "victor")
    keep_alives: list[float] = []
    connections: list[WebSocketRoute] = []
    silenced: set[int] = set()  # the connections whose frames no longer reach the page
    delivered: list[float] = []  # when a frame last reached the page

    def relay(socket: WebSocketRoute) -> None:
        upstream = socket.connect_to_server()
        number = len(connections)
        connections.append(socket)

        def to_page(message: str | bytes) -> None:
            if message == KEEPALIVE:
                keep_alives.append(time.monotonic())
            if number not in silenced:
                socket.send(message)
                delivered.append(time.monotonic())

        upstream.on_message(to_page)

    page.route_web_socket(re.compile("/console/live"), relay)
    page.add_init_script(STATE_RECORDER)
    page.goto(f"{server.url}/devices/{scene['device_id']}/")
    live(page)
    keep_alives.clear()
    opened, before = time.monotonic(), len(connections)
    page.wait_for_timeout(15_000)
    assert keep_alives and keep_alives[0] - opened <= 15, "no keep-alive within 15 s"

    silenced.update(range(len(connections)))
    last_heard = delivered[-1]  # no frame of these connections reaches the page from now
    # Stale after 25 s without a frame, then at once a new socket, heard again: live.
    page.wait_for_function(
        "() => window.liveStates.some(s => s.startsWith('stale'))", timeout=30_000
    )
    # Silence is counted from the last frame the page heard (a keep-alive may have arrived
    # up to 10 s before the relay stopped passing frames on).
    assert time.monotonic() - last_heard >= 24, "stale before 25 s of silence"
    states = page.evaluate("window.liveStates")
    assert "stale|Updates stale — reconnecting…" in states
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live", timeout=10_000)
    assert len(connections) == before + 1
    scene["charger"].telemetry(power=33.3)
    expect(page.locator("#connectors")).to_contain_text("33.3 kW", timeout=10_000)


def test_a_stop_shows_the_connector_idle_at_0_kw_and_frees_the_sites_power(server, scene, browser):
    charger = scene["charger"]
    charger.telemetry(power=60.0)
    page = sign_in(browser, server, "victor")
    page.goto(f"{server.url}/devices/{scene['device_id']}/")
    connectors = page.locator("#connectors")
    expect(connectors).to_contain_text("60.0 kW")
    site_page = sign_in(browser, server, "victor")
    site_page.goto(f"{server.url}/sites/{scene['site'].site_id}/")
    expect(site_page.locator("#site-power strong")).to_have_text("60.0 kW")
    live(page)
    live(site_page)
    page.evaluate("window.notReloaded = true")

    stopped(charger)
    row = connectors.locator("tbody tr").first
    expect(row.locator(".badge")).to_have_text("idle", timeout=5_000)
    expect(row).to_contain_text("0.0 kW")
    expect(site_page.locator("#site-power strong")).to_have_text("0.0 kW", timeout=5_000)
    assert page.evaluate("window.notReloaded") is True
    # And after a reload: an idle connector's last power is not a draw.
    page.reload()
    expect(connectors.locator("tbody tr").first).to_contain_text("0.0 kW")


def test_a_site_controls_progress_follows_its_chargers_answers(server, scene, browser, shots):
    page = sign_in(browser, server, "olivia", viewport={"width": 1440, "height": 900})
    page.goto(f"{server.url}/sites/{scene['site'].site_id}/")
    page.get_by_label("Duration (minutes)").last.fill("30")
    page.get_by_role("button", name="Review pause").click()
    page.locator(".card.confirm").get_by_role(
        "button", name=re.compile("Send to 1 charger")
    ).click()
    controls = page.locator("#site-controls")
    expect(controls).to_contain_text("1 queued, 0 accepted, 0 completed")
    live(page)

    charger = scene["charger"]
    command = charger.next_command()
    charger.report(command, "accepted")
    expect(controls).to_contain_text("0 queued, 1 accepted, 0 completed", timeout=10_000)
    charger.report(command, "completed")
    expect(controls).to_contain_text("0 queued, 0 accepted, 1 completed", timeout=10_000)
    page.screenshot(path=shots / "site-control-progress.png", full_page=True)
