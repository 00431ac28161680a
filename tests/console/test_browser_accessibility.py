"""Every console page is accessible and usable on a phone, a tablet and a desktop.

axe-core (tests/console/accessibility.py) audits every page of the browser tour (its PAGES
list: a page added to the tour is audited too), the sign-in page, the people page and an
operator's confirmations, at 390x844, 1024x768 and 1440x900, as an engineer and as an
operator: no serious or critical violation, and no page wider than its window (wide tables
scroll in their own frame). Then, in Chromium: the skip link and the keyboard reach and
work everything on the charger page without a trap; pushed changes land in polite live
regions; the charger page, the alerts inbox and a run have readable text and 44 px tap
targets on a phone.

Screenshots go to the `shots` folder (TELLUS_SCREENSHOT_DIR) as a11y-<size>-<who>-<page>.png."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from console.web.services.people import create_console_user
from diagnostics.services.runbooks import engine
from fleet.actors import Actor
from fleet.models import Device, DeviceEvent
from fleet.services.firmware_campaigns import create_campaign
from tests.console.accessibility import PHONE, SIZES, audit, describe
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
from tests.console.test_browser_tour import PAGES
from tests.factories import CONSOLE_PASSWORD as PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

# The pages a phone user must be able to work on, not only read.
PHONE_PAGES = ("device", "alerts", "run")


@pytest.fixture
def tour(scene) -> dict:
    """The scene's charger with F-0421 and a code the dictionary lacks reported, a run in
    progress and an escalated one: the ids the tour's PAGES are formatted with."""
    device = Device.objects.get(pk=scene["device_id"])
    for minutes in (3, 2):
        DeviceEvent.objects.create(
            device=device, connector_id=1, event_type="fault", fault_code="F-0421",
            timestamp=timezone.now() - timezone.timedelta(minutes=minutes),
        )  # fmt: skip
    actor = Actor.platform(device.site.operator_id)
    run = engine.start_run(actor, device, "charger-faulting-on-power-up", 1)
    escalated = engine.start_run(actor, device, "connector-stuck-preparing", 1)
    engine.escalate(actor, escalated, note="tour")
    DeviceEvent.objects.create(
        device=device, connector_id=1, event_type="fault", fault_code="X-7777",
        timestamp=timezone.now() - timezone.timedelta(minutes=1),
        data={"fault_code": "X-7777", "fault_message": "Relay watchdog", "details": {"board": 2}},
    )  # fmt: skip
    campaign = create_campaign(
        actor, name="Tour rollout", target_version="3.2.0",
        package_url="https://firmware.example.com/tp-dc180/3.2.0.bin",
        device_ids=[device.device_id],
    )  # fmt: skip
    return {
        **scene,
        "campaign_id": campaign.campaign_id,
        "undocumented_code": "X-7777",
        "device": device,
        "site_id": scene["site"].site_id,
        "run_id": run.run_id,
        "escalated_id": escalated.run_id,
    }


@pytest.fixture
def audited(tour) -> dict:
    """The tour's scene with an open alert in the inbox (a repeated fault), so the inbox is
    audited with an alert and its actions, not only its empty state."""
    for _ in range(3):
        tour["charger"].fault("F-0411")
    sweep_now()
    return tour


def audit_here(page: Page, name: str) -> str:
    """The violations of the page now shown, as lines naming the page ('' if none)."""
    return describe(audit(page), where=f"{name}: ")


def sideways(page: Page, name: str) -> str:
    """'' if the page fits its window's width, else how much wider it is and the first
    elements that stick out (the innermost ones)."""
    width, window, culprits = page.evaluate(
        """() => {
            const sticksOut = el => el.getBoundingClientRect().right > innerWidth + 1;
            const out = Array.from(document.querySelectorAll('body *')).filter(el =>
                sticksOut(el) && !el.closest('.table-scroll')
                && !Array.from(el.children).some(sticksOut));
            const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                + (typeof el.className === 'string' && el.className
                    ? '.' + el.className.split(' ').join('.') : '');
            return [document.documentElement.scrollWidth, innerWidth, out.slice(0, 3).map(name)];
        }"""
    )
    if width <= window:
        return ""
    return f"{name}: {width} px wide in a {window} px window ({', '.join(culprits)})"


def operator_confirmations(page: Page, server, tour) -> list[tuple[str, str]]:
    """The confirmations only an operator reaches: a medium-risk diagnostic and a power
    limit on the charger page, a site-wide pause on the site page."""
    found = []
    page.goto(f"{server.url}/devices/{tour['device_id']}/")
    diagnostics = page.locator("#diagnostics")
    diagnostics.get_by_label(re.compile("run_self_test")).check()
    diagnostics.get_by_role("button", name="Send").click()
    expect(page.locator(".card.confirm")).to_be_visible()
    found.append(("confirm-diagnostic", audit_here(page, "confirm-diagnostic")))

    page.goto(f"{server.url}/devices/{tour['device_id']}/")
    power = page.locator("details", has=page.get_by_text("Power limit or pause"))
    power.locator("summary").click()
    power.get_by_label(re.compile("Power limit")).fill("50")
    power.get_by_role("button", name="Review").click()
    expect(page.locator(".card.confirm")).to_be_visible()
    found.append(("confirm-power", audit_here(page, "confirm-power")))

    page.goto(f"{server.url}/sites/{tour['site_id']}/")
    pause = page.locator("form", has=page.get_by_role("heading", name="Pause charging"))
    pause.get_by_label("Duration (minutes)").fill("15")
    pause.get_by_role("button", name="Review pause").click()
    expect(page.locator(".card.confirm")).to_be_visible()
    found.append(("confirm-site-pause", audit_here(page, "confirm-site-pause")))
    return found


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("who", ["erin", "olivia"], ids=["engineer", "operator"])
def test_every_page_passes_the_accessibility_audit(server, audited, browser, shots, who, size):
    page = sign_in(browser, server, who, viewport=SIZES[size])
    problems = []
    for name, path, _, is_live in PAGES:
        response = page.goto(server.url + path.format(**audited))
        assert response.status == 200, name
        if is_live:
            live(page)
        page.screenshot(path=shots / f"a11y-{size}-{who}-{name}.png", full_page=True)
        problems.append(audit_here(page, name))
        problems.append(sideways(page, name))
    if who == "olivia":
        problems += [found for _, found in operator_confirmations(page, server, audited)]
    assert not any(problems), "\n".join(p for p in problems if p)


@pytest.mark.parametrize("size", SIZES)
def test_sign_in_and_people_pass_the_accessibility_audit(server, tour, ada, browser, size):
    signed_out = browser.new_page(viewport=SIZES[size])
    signed_out.goto(f"{server.url}/login/")
    problems = [audit_here(signed_out, "login")]
    # A failed sign-in: the error and the form again.
    signed_out.get_by_label("Username").fill("erin")
    signed_out.get_by_label("Password").fill("not-the-password")
    signed_out.get_by_role("button", name="Sign in").click()
    expect(signed_out.get_by_role("alert")).to_be_visible()
    problems.append(audit_here(signed_out, "login-refused"))

    page = sign_in(browser, server, "ada", viewport=SIZES[size])
    page.goto(f"{server.url}/people/")
    problems.append(audit_here(page, "people"))
    assert not any(problems), "\n".join(p for p in problems if p)


@pytest.fixture
def ada(scene):
    """An admin of Acme, for the people page."""
    create_console_user(Actor.platform(), "ada", "Acme Charging", "admin", password=PASSWORD)


def test_the_audit_finds_what_it_is_for(server, scene, browser):
    """A nameless button and grey-on-grey text on the sign-in page: both reported."""
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{server.url}/login/")
    assert audit(page) == []
    page.evaluate("""() => {
        document.querySelector('form').append(document.createElement('button'));
        document.querySelector('h1').style.color = '#ccc';
    }""")
    found = audit(page)
    assert {v["id"] for v in found} == {"button-name", "color-contrast"}
    assert "button-name (critical): Buttons must have discernible text" in describe(found)


def focused(page: Page) -> dict:
    """What has the keyboard focus: its tag, name, whether it is inside <main>, its outline."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                tag: el.tagName.toLowerCase(),
                text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim(),
                inMain: !!el.closest('main'),
                outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
                index: el === document.body ? -1
                    : Array.prototype.indexOf.call(document.querySelectorAll('*'), el),
            };
        }"""
    )


def tab_to(page: Page, matches, limit: int = 150) -> dict:
    """Press Tab until the focused element matches; each one on the way shows its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        assert now["tag"] == "body" or now["outline"], f"no visible focus on {now}"
        if matches(now):
            return now
    raise AssertionError(f"not reached by Tab in {limit} presses")


def test_the_charger_page_works_by_keyboard_alone(server, tour, browser, shots):
    page = sign_in(browser, server, "olivia", viewport=TABLET)
    page.goto(f"{server.url}/devices/{tour['device_id']}/")
    live(page)

    # The first Tab shows the skip link; Enter skips the top bar.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["x"] >= 0, "the focused skip link is off screen"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page)["inMain"], "after the skip link, Tab does not land in the content"

    # A command by keyboard: open the power form, fill it, Enter on Review: confirmation.
    tab_to(page, lambda f: f["tag"] == "summary" and f["text"] == "Power limit or pause")
    page.keyboard.press("Enter")
    tab_to(page, lambda f: f["tag"] == "input" and page.evaluate(
        "() => document.activeElement.name") == "power_limit_percent")  # fmt: skip
    page.keyboard.type("40")
    tab_to(page, lambda f: f["tag"] == "button" and f["text"] == "Review")
    page.keyboard.press("Enter")
    confirmation = page.locator(".card.confirm")
    expect(confirmation).to_contain_text("40")
    # The decision has the focus; Tab reaches the way out.
    expect(confirmation.get_by_role("button")).to_be_focused()
    page.keyboard.press("Tab")
    expect(confirmation.get_by_role("link", name=re.compile("Cancel"))).to_be_focused()
    page.screenshot(path=shots / "a11y-keyboard-confirm.png")


def test_tab_goes_through_the_charger_page_in_order_without_a_trap(server, tour, browser):
    page = sign_in(browser, server, "olivia", viewport=TABLET)
    page.goto(f"{server.url}/devices/{tour['device_id']}/")
    live(page)
    seen = []
    for _ in range(300):
        page.keyboard.press("Tab")
        now = focused(page)
        if seen and now["index"] == seen[0]:
            break  # round the page and back to the start: no trap
        if now["index"] >= 0:
            seen.append(now["index"])
    else:
        raise AssertionError("Tab never came back to the start of the page: a keyboard trap")
    assert seen == sorted(seen), "Tab does not follow the page's reading order"
    assert len(seen) > 20  # the top bar, the navigation and the page's controls


@pytest.mark.parametrize("name", PHONE_PAGES)
def test_a_phone_can_work_on_the_charger_alerts_and_a_run(server, audited, browser, shots, name):
    _, path, _, is_live = next(page for page in PAGES if page[0] == name)
    for who in ("erin", "olivia"):
        page = sign_in(browser, server, who, viewport=PHONE)
        page.goto(server.url + path.format(**audited))
        if is_live:
            live(page)
        page.screenshot(path=shots / f"a11y-phone-{who}-{name}.png", full_page=True)
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"{name} as {who} is {width[0]} px wide on a 390 px phone"
        # Wide tables scroll in their own frame, which says so to the keyboard and readers.
        assert page.evaluate("""() => Array.from(document.querySelectorAll('main table'))
            .every(t => t.closest('.table-scroll') || t.scrollWidth <= t.clientWidth + 1)""")
        # Readable text (16 px body, nothing under 12 px outside the charts' axes) and
        # buttons big enough to tap.
        assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 16
        tiny = page.evaluate("""() => Array.from(document.querySelectorAll('body *'))
            .filter(el => !el.closest('svg') && el.checkVisibility()
                && Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())
                && parseFloat(getComputedStyle(el).fontSize) < 12)
            .map(el => el.textContent.trim().slice(0, 40))""")
        assert tiny == [], f"{name}: text under 12 px"
        short = page.evaluate("""() => Array.from(document.querySelectorAll(
                'main button, main summary, header button, .main-nav a'))
            .filter(b => b.checkVisibility() && b.getBoundingClientRect().height < 44)
            .map(b => b.innerText)""")
        assert short == [], f"{name}: buttons, folds or page links under 44 px high"
        page.close()


def test_pushed_changes_are_announced_politely(server, audited, browser):
    """A screen reader hears a change only in a live region that was there before it: the
    connectors' new power arrives inside the same polite region; the chart's redraws are
    not announced, and nothing on the page interrupts (no assertive region)."""
    page = sign_in(browser, server, "olivia", viewport=TABLET)
    page.goto(f"{server.url}/devices/{audited['device_id']}/")
    expect(page.locator("#live-status")).to_have_attribute("role", "status")
    live(page)
    region = page.locator("[aria-live]", has=page.locator("#connectors"))
    expect(region).to_have_attribute("aria-live", "polite")
    region.evaluate("node => { node.dataset.before = 'yes'; }")
    audited["charger"].telemetry(power=33.3)
    expect(page.locator("#connectors")).to_contain_text("33.3 kW", timeout=10_000)
    expect(region).to_have_attribute("data-before", "yes")  # the same region, now updated
    for pushed in ("#device-status", "#device-commands"):
        expect(page.locator(f"[aria-live=polite]:has({pushed})")).to_have_count(1)
    expect(page.locator("[aria-live]:has(#device-chart)")).to_have_count(0)
    expect(page.locator("[aria-live=assertive]")).to_have_count(0)

    page.goto(f"{server.url}/sites/{audited['site_id']}/")
    expect(page.locator("[aria-live=polite]:has(#site-power)")).to_have_count(1)
    page.goto(f"{server.url}/alerts/")  # new alerts are inserted into #alert-items
    expect(page.locator("[aria-live=polite]:has(#alert-items)")).to_have_count(1)
