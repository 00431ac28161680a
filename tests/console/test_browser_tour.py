"""Every console page, in Chromium, as the two people it is for: a field engineer on a
1024x768 tablet and an operator at a desktop — each page answers, logs no script error,
shows a loading indicator where it swaps by HTMX, and its live pages go live. On both
databases: the embedded default (SQLite, as `make run` starts it) and PostgreSQL, each
with the crawl's world (tests/crawl_world.py). And a user of another operator, who finds
nothing of the demo operator's: empty states, not someone else's data.

Screenshots go to the `shots` folder (TELLUS_SCREENSHOT_DIR) as
tour-<database>-<role>-<page>.png (the other operator's user: role "rival")."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.test_browser_flows import (  # noqa: F401 (fixtures)
    TABLET,
    launched_chromium,
    live,
    shots,
)
from tests.crawl import BACKENDS, World, world_on
from tests.crawl_world import CHARGERS

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1440, "height": 900}
# name, path (formatted with the tour's ids), swaps by HTMX, live
PAGES = [
    ("fleet", "/", True, True),
    ("chargers", "/devices/", True, False),
    ("sites", "/sites/", True, False),
    ("device", "/devices/{device_id}/", False, True),
    ("site", "/sites/{site_id}/", False, True),
    ("alerts", "/alerts/", True, True),
    ("faults", "/faults/", True, False),
    ("fault-entry", "/faults/F-0421/", False, False),
    ("undocumented", "/faults/undocumented/", False, False),
    ("undocumented-code", "/faults/undocumented/{undocumented_code}/", False, False),
    ("runbooks", "/runbooks/", False, False),
    ("runbook", "/runbooks/charger-faulting-on-power-up/", False, False),
    ("runs", "/runs/", True, False),
    ("run", "/runs/{run_id}/", False, True),
    ("escalation", "/runs/{escalated_id}/escalation/", False, False),
    ("firmware", "/firmware/", True, True),
    ("campaign", "/firmware/campaigns/{campaign_id}/", False, True),
    ("audit", "/audit/", True, False),
    ("commands", "/commands/", True, False),
    ("records", "/records/", True, False),
    ("energy", "/energy/", True, False),
    ("account", "/account/", False, False),
]


@pytest.fixture(params=BACKENDS)
def world(request, tmp_path) -> Iterator[World]:
    with world_on(request.param, tmp_path) as built:
        yield built


@pytest.fixture
def chromium(world) -> Iterator[Browser]:
    with launched_chromium() as launched:
        yield launched


def sign_in_as(browser: Browser, world: World, role: str, viewport: dict) -> Page:
    """The demo login of `role` (or the other operator's engineer, "rival"), through the
    sign-in form."""
    username, password = world.ids["rival_login"] if role == "rival" else world.logins[role]
    page = browser.new_page(viewport=viewport)
    page.goto(f"{world.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{world.url}/")
    return page


@pytest.mark.parametrize(
    ("role", "viewport"),
    [("engineer", TABLET), ("operator", DESKTOP)],
    ids=["engineer-tablet", "operator-desktop"],
)
def test_every_page_works_for_the_people_it_is_for(world, chromium, shots, role, viewport):
    page = sign_in_as(chromium, world, role, viewport)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    for name, path, swaps, is_live in PAGES:
        response = page.goto(world.url + path.format(**world.ids))
        assert response.status == 200, name
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        if swaps:
            assert page.locator(".htmx-indicator").count() >= 1, f"{name}: no loading indicator"
        if is_live:
            live(page)
        page.screenshot(path=shots / f"tour-{world.backend}-{role}-{name}.png", full_page=True)
    assert errors == []


def test_another_operator_sees_nothing_of_the_demo_operators(world, chromium, shots):
    page = sign_in_as(chromium, world, "rival", TABLET)
    sn = CHARGERS[0][0]
    for name, path, _, _ in PAGES:
        response = page.goto(world.url + path.format(**world.ids))
        if "{" in path:  # the demo operator's id in the address: not found, nothing told
            assert response.status == 404, name
            continue
        assert response.status == 200, name
        assert sn not in page.content(), f"{name} shows the demo operator's charger"
        assert world.ids["run_id"] not in page.content(), name
        page.screenshot(path=shots / f"tour-{world.backend}-rival-{name}.png", full_page=True)
    page.goto(world.url + "/runs/")
    expect(page.locator("#run-table")).to_contain_text("No runbook has been run yet")
    page.goto(world.url + "/faults/F-0421/")
    expect(page.locator("main")).to_contain_text("Rival Energy")
