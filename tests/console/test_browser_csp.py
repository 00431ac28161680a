"""The console, the admin and the API documentation work in a real browser under the
Content-Security-Policy: Debian's Chromium (/usr/bin/chromium) driven by Playwright,
against a live server. A page whose script or style the policy blocked would report a
violation; each page must also show that its scripts ran.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Browser, Page, sync_playwright

from tests.live_server import LiveServer, serving

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = "/usr/bin/chromium"

# Each page, and what is on it only once its JavaScript has run.
PAGES = {
    "/": "() => typeof window.htmx === 'object'",
    "/admin/fleet/device/": "() => typeof window.django === 'object'",
    "/v1/docs": "() => document.querySelectorAll('#swagger-ui .opblock').length > 0",
}


@pytest.fixture
def server(tmp_path) -> Iterator[LiveServer]:
    with serving(tmp_path / "server.log") as live:
        yield live


@pytest.fixture
def lead(server) -> tuple[str, str]:
    # Before the browser starts: Playwright's sync API runs an event loop on this thread,
    # and the ORM refuses to run inside one.
    get_user_model().objects.create_superuser("lead", password="s3cret-pass")
    return "lead", "s3cret-pass"


@pytest.fixture
def browser(lead) -> Iterator[Browser]:
    assert shutil.which(CHROMIUM), "browser tests need Debian's Chromium: apt-get install chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def watch_for_violations(page: Page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return violations


def test_pages_run_under_the_policy_without_a_single_violation(
    server, lead, browser, tmp_path: Path
):
    username, password = lead
    page = browser.new_page(viewport={"width": 1180, "height": 820})
    violations = watch_for_violations(page)

    page.goto(f"{server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")

    for path, scripts_ran in PAGES.items():
        page.goto(f"{server.url}{path}")
        page.wait_for_function(scripts_ran, timeout=15_000)
        page.screenshot(path=tmp_path / f"{path.strip('/').replace('/', '_') or 'home'}.png")
    assert violations == [], violations
