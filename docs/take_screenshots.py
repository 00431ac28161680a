"""Take the docs' screenshots from a running demo (`make run`, the embedded default).

    make run                                   # in one terminal; wait for the logins
    .venv/bin/python docs/take_screenshots.py  # in another

Signs in with the demo logins `make run` saved (var/console-logins.json), as the operator at
a 1440x900 desktop, the engineer on a 1024x768 tablet and on a 390 px phone, and the admin,
and saves each page as docs/screenshots/<name>.png. It starts a runbook run on a faulted
charger and escalates it (so the run and escalation pages have something to show): use it
on a demo, not on a fleet that matters. Needs Debian's Chromium (/usr/bin/chromium) and
the development dependencies (Playwright)."""

import argparse
import json
import sys
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
DESKTOP = {"width": 1440, "height": 900}
TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}


def sign_in(browser, url: str, username: str, password: str, viewport: dict) -> Page:
    page = browser.new_page(viewport=viewport)
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/")
    return page


def shot(page: Page, out: Path, name: str, path: str | None = None, base: str = "") -> None:
    if path is not None:
        page.goto(base + path)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=out / f"{name}.png", full_page=True)
    print(f"  {name}.png  {page.url}")


def first_link(page: Page, base: str, listing: str, prefix: str) -> str:
    page.goto(base + listing)
    return page.locator(f"main table a[href^='{prefix}']").first.get_attribute("href")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--var", type=Path, default=ROOT / "var")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    logins = json.loads((args.var / "console-logins.json").read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.url.rstrip("/")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
        )
        operator = sign_in(browser, base, "demo-operator", logins["demo-operator"], DESKTOP)
        shot(operator, args.out, "fleet")
        for name, path in [
            ("chargers", "/devices/"),
            ("sites", "/sites/"),
            ("alerts", "/alerts/"),
            ("commands", "/commands/"),
            ("records", "/records/"),
            ("energy", "/energy/"),
            ("audit", "/audit/"),
            ("faults", "/faults/"),
            ("fault-entry", "/faults/F-0421/"),
            ("faults-undocumented", "/faults/undocumented/"),
        ]:
            shot(operator, args.out, name, path, base)
        faulted = first_link(operator, base, "/devices/?health=faulted", "/devices/dvc_")
        site = first_link(operator, base, "/sites/", "/sites/site_")
        shot(operator, args.out, "site", site, base)
        shot(operator, args.out, "device", faulted, base)
        operator.locator("#diagnostics").screenshot(path=args.out / "device-diagnostics.png")
        operator.locator("input[name=command][value=run_self_test]").check()
        operator.locator("#diagnostics").get_by_role("button", name="Send").click()
        shot(operator, args.out, "device-diagnostic-confirm")

        engineer = sign_in(browser, base, "demo-engineer", logins["demo-engineer"], TABLET)
        engineer.goto(base + faulted)
        engineer.get_by_role("button", name="Start a run").first.click()
        engineer.wait_for_url("**/runs/run_*/")
        run = engineer.url.removeprefix(base)
        shot(engineer, args.out, "run")
        phone = sign_in(browser, base, "demo-engineer", logins["demo-engineer"], PHONE)
        shot(phone, args.out, "device-phone", faulted, base)
        shot(phone, args.out, "alerts-phone", "/alerts/", base)
        engineer.goto(base + run)
        engineer.locator("summary", has_text="Escalate").first.click()
        engineer.get_by_label("Note for", exact=False).fill(
            "Fault returns after a restart; needs the manufacturer's look at the power module."
        )
        engineer.get_by_role("button", name="Escalate").click()
        engineer.wait_for_load_state("networkidle")
        shot(engineer, args.out, "escalation", run + "escalation/", base)

        admin = sign_in(browser, base, "demo-admin", logins["demo-admin"], DESKTOP)
        shot(admin, args.out, "people", "/people/", base)
        shot(admin, args.out, "account", "/account/", base)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
