"""The alerts inbox in Chromium, as an engineer works it on a 1024x768 tablet and an
operator at a desktop: ten alerts in one screen, most severe first; an alert's evidence
opens in place; two ticked alerts acknowledged with one note; an alert the detectors open
arrives live as a row of the table; the suggested runbook started from its row; and the
same without JavaScript.

Screenshots go to the `shots` folder (TELLUS_SCREENSHOT_DIR) as alerts-*.png."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from diagnostics.models import Alert
from fleet.live.messages import alert_changed
from fleet.live.publish import publish_operator_message_sync
from fleet.models import Device
from tests.console.test_alerts_page import make_alert
from tests.console.test_browser_flows import (  # noqa: F401 (fixtures)
    TABLET,
    browser,
    live,
    scene,
    server,
    shots,
    sign_in,
    sweep_now,
)
from tests.factories import CONSOLE_PASSWORD as PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1440, "height": 900}
SEVERITIES = ["low", "medium", "high", "critical", "medium", "high", "low", "medium", "high", "low"]


@pytest.fixture
def inbox(scene) -> list[Alert]:
    """Ten active alerts on Acme's charger, of every severity, opened over the last hours."""
    device = Device.objects.select_related("site").get(pk=scene["device_id"])
    return [
        make_alert(
            device,
            minutes_ago=7 * n + 1,
            severity=severity,
            title=f"Connector 1 at {80 + n}.0 °C",
            suggested_runbook="charger-faulting-on-power-up",
        )
        for n, severity in enumerate(SEVERITIES)
    ]


def push_changed(alert: Alert) -> None:
    """What the service publishes when an alert changes, from a thread of its own (see
    sweep_now)."""

    def publish() -> None:
        message = alert_changed(alert.alert_id, alert.status, alert.severity)
        publish_operator_message_sync(alert.operator_id, message)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(publish).result()


def rows(page):
    return page.locator("#alert-items > tr.alert-row")


def test_ten_alerts_fit_a_tablet_most_severe_first(server, inbox, browser, shots):
    page = sign_in(browser, server, "erin")
    page.goto(f"{server.url}/alerts/")
    expect(rows(page)).to_have_count(10)
    severities = [text.lower() for text in rows(page).locator(".severity").all_inner_texts()]
    assert severities == ["critical"] + ["high"] * 3 + ["medium"] * 3 + ["low"] * 3
    # The tenth row ends within a screen and a half of the tablet: little scrolling.
    bottom = rows(page).nth(9).evaluate("row => row.getBoundingClientRect().bottom")
    assert bottom <= TABLET["height"] * 1.5, f"the tenth alert ends at {bottom:.0f} px"
    no_sideways = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_sideways, "the inbox scrolls sideways at 1024 px"
    page.screenshot(path=shots / "alerts-tablet.png")
    page.screenshot(path=shots / "alerts-tablet-full.png", full_page=True)


def test_evidence_opens_in_place_and_two_ticked_alerts_are_acknowledged(
    server, inbox, browser, shots
):
    page = sign_in(browser, server, "erin")
    page.goto(f"{server.url}/alerts/")
    first = rows(page).first
    more = page.locator("#alert-items > tr.alert-more").first
    expect(more).to_be_hidden()
    first.locator("summary").click()
    expect(more).to_be_visible()
    expect(more).to_contain_text("Peak temperature (°C)")
    expect(more).to_contain_text("no one has acted on it yet")
    page.screenshot(path=shots / "alerts-expanded.png")

    # One alert moved from its opened evidence: the row and its evidence are redrawn.
    acknowledging = more.locator(
        "details", has=page.locator("summary", has_text=re.compile("^Acknowledge$"))
    )
    acknowledging.locator("summary").click()
    acknowledging.get_by_label("Note (required)").fill("Looking at the fan")
    acknowledging.get_by_role("button", name="Acknowledge").click()
    expect(first.locator(".badge")).to_have_text("acknowledged", timeout=10_000)
    expect(more).to_contain_text("erin · open → acknowledged: “Looking at the fan”")
    # Moves are pushed live to every open inbox, this one too: the redrawn row stays open.
    live(page)
    row_id = first.get_attribute("id")
    page.evaluate("id => { window.before = document.getElementById(id); }", row_id)
    push_changed(Alert.objects.get(alert_id=row_id.removeprefix("alert-")))
    page.wait_for_function("id => document.getElementById(id) !== window.before", arg=row_id)
    expect(more).to_be_visible()

    # Two ticked (rows 2 and 3) and acknowledged with one note.
    ticked = [rows(page).nth(1), rows(page).nth(2)]
    titles = [row.locator("summary").inner_text() for row in ticked]
    for row in ticked:
        row.get_by_role("checkbox").check()
    page.get_by_label("Note for the ticked alerts (required)").fill("Crew on site at 14:00")
    page.get_by_role("button", name="Acknowledge ticked").click()
    expect(page.locator("#alert-list .flash")).to_have_text("2 alerts acknowledged.")
    for title in titles:
        row = rows(page).filter(has_text=title)
        expect(row.locator(".badge")).to_have_text("acknowledged")
    assert Alert.objects.filter(status="acknowledged").count() == 3
    page.screenshot(path=shots / "alerts-acknowledged.png")


def test_select_all_ticks_every_open_alert_on_the_page(server, inbox, browser):
    page = sign_in(browser, server, "erin")
    page.goto(f"{server.url}/alerts/")
    page.get_by_label("Tick every open alert on this page").check()
    boxes = page.locator("#alert-items input[name=alert]")
    expect(boxes).to_have_count(10)
    assert all(box.is_checked() for box in boxes.all())
    page.get_by_label("Note for the ticked alerts (required)").fill("Storm last night")
    page.get_by_role("button", name="Acknowledge ticked").click()
    expect(page.locator("#alert-list .flash")).to_have_text("10 alerts acknowledged.")


def test_an_alert_opened_by_the_detectors_arrives_live_as_a_row(server, scene, browser, shots):
    page = sign_in(browser, server, "erin")
    page.goto(f"{server.url}/alerts/")
    make_alert(Device.objects.get(pk=scene["device_id"]), severity="low")
    page.reload()
    expect(rows(page)).to_have_count(1)
    live(page)
    for _ in range(3):
        scene["charger"].fault("F-0411")
    sweep_now()
    arrived = rows(page).filter(has_text="F-0411")
    expect(arrived).to_have_count(1, timeout=10_000)
    expect(rows(page)).to_have_count(2)
    # A real row of the table, with its evidence row after it, and it opens.
    assert arrived.evaluate("row => row.parentElement.id") == "alert-items"
    arrived.locator("summary").click()
    more = arrived.locator("xpath=following-sibling::tr[1]")
    expect(more).to_be_visible()
    expect(more).to_contain_text("History")
    page.screenshot(path=shots / "alerts-live.png")


def test_the_suggested_runbook_starts_from_the_row_then_is_continued(server, inbox, browser):
    page = sign_in(browser, server, "erin")
    page.goto(f"{server.url}/alerts/")
    rows(page).first.get_by_role("button", name=re.compile("^Start runbook")).click()
    page.wait_for_url(re.compile(r"/runs/run_[0-9a-f]+/$"))
    run_url = page.url
    page.goto(f"{server.url}/alerts/")
    # Every alert on the charger suggests the same runbook: each row now leads to the run.
    expect(rows(page).first.get_by_role("link", name="Continue the run")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("^Start runbook"))).to_have_count(0)
    rows(page).nth(4).get_by_role("link", name="Continue the run").click()
    page.wait_for_url(run_url)


def test_an_operator_at_a_desktop_sees_the_whole_inbox(server, inbox, browser, shots):
    page = sign_in(browser, server, "olivia", viewport=DESKTOP)
    page.goto(f"{server.url}/alerts/")
    expect(rows(page)).to_have_count(10)
    bottom = rows(page).nth(9).evaluate("row => row.getBoundingClientRect().bottom")
    assert bottom <= DESKTOP["height"], f"the tenth alert ends at {bottom:.0f} px"
    page.screenshot(path=shots / "alerts-desktop.png")


def test_a_viewer_reads_alerts_without_controls(server, inbox, browser):
    page = sign_in(browser, server, "victor")
    page.goto(f"{server.url}/alerts/")
    expect(rows(page)).to_have_count(10)
    expect(page.get_by_role("checkbox")).to_have_count(0)
    acting = page.get_by_role("button", name=re.compile("Acknowledge|Start runbook"))
    expect(acting).to_have_count(0)
    rows(page).first.locator("summary").click()
    expect(page.locator("#alert-items > tr.alert-more").first).to_contain_text("History")


def test_without_javascript_alerts_open_and_ticked_ones_are_acknowledged(server, inbox, browser):
    context = browser.new_context(java_script_enabled=False, viewport=TABLET)
    page = context.new_page()
    page.goto(f"{server.url}/login/")
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{server.url}/alerts/?severity=high")
    expect(rows(page)).to_have_count(3)
    expect(page.get_by_label("Tick every open alert on this page")).to_be_hidden()
    rows(page).first.locator("summary").click()
    expect(page.locator("#alert-items > tr.alert-more").first).to_contain_text("History")
    rows(page).nth(1).get_by_role("checkbox").check()
    rows(page).nth(2).get_by_role("checkbox").check()
    page.get_by_label("Note for the ticked alerts (required)").fill("Crew on site at 14:00")
    page.get_by_role("button", name="Acknowledge ticked").click()
    page.wait_for_url(f"{server.url}/alerts/?severity=high")
    expect(page.locator(".flash")).to_have_text("2 alerts acknowledged.")
    expect(rows(page).locator(".badge", has_text="acknowledged")).to_have_count(2)
    context.close()
