"""A live page keeps its session: someone watching a live page is not idle. The page renews
the session well inside the idle limit, so its updates flow for as long as it stays open,
while a page that is not live idles out as before; signing out, deactivation and losing
access still end a live page (tests/console/test_live_updates.py, test_browser_live.py)."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.console.test_browser_flows import (  # noqa: F401 (fixtures)
    browser,
    live,
    scene,
    sign_in,
)
from tests.live_server import LiveServer, serving


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    """A live server whose console sessions idle out after one minute."""
    with serving(tmp_path / "server.log", extra_env={"TELLUS_CONSOLE_IDLE_MINUTES": "1"}) as up:
        yield up


@pytest.mark.django_db(transaction=True)
def test_a_live_page_outlives_the_idle_limit_and_a_quiet_one_does_not(server, scene, browser):
    """Two people sign in (one minute idle limit): one watches a charger's live page, the
    other leaves the records page open. After 80 s the watcher's page is still live and
    their next click is still signed in; the other's next click asks them to sign in."""
    watcher = sign_in(browser, server, "olivia")
    watcher.goto(f"{server.url}/devices/{scene['device_id']}/")
    live(watcher)
    idle = sign_in(browser, server, "erin")
    idle.goto(f"{server.url}/records/")

    watcher.wait_for_timeout(80_000)

    expect(watcher.locator("#live-status")).to_have_attribute("data-state", "live")
    watcher.goto(f"{server.url}/alerts/")
    assert watcher.url == f"{server.url}/alerts/"
    idle.goto(f"{server.url}/alerts/")
    assert "/login/" in idle.url
