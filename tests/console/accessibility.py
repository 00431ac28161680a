"""The accessibility audit of a console page: axe-core run inside the page in Chromium.

axe-core comes from the npm registry, installed by the tests themselves on first use into
a git-ignored folder (var/test-tools); nothing of it is committed. It is evaluated through
Playwright (the DevTools protocol), which the page's Content-Security-Policy does not
govern, so the page under audit is exactly the page people get: its policy stays on (a
context with bypass_csp would also let through inline styles and scripts the policy
blocks in real use, and the audit would judge a page nobody sees).

`audit(page)` answers the serious and critical violations; `describe` words them for a
failure message (rule, impact, what to do, the first elements concerned).
"""

import fcntl
import shutil
import subprocess
from functools import cache
from pathlib import Path

from playwright.sync_api import Page

REPO = Path(__file__).resolve().parents[2]
AXE_PACKAGE = "axe-core@4"  # the major version the audit's rules were checked against
TOOLS = REPO / "var" / "test-tools"
AXE_SCRIPT = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]  # axe's rule tags

# Phone, tablet and desktop: the three screens the console is checked on.
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 1024, "height": 768}
DESKTOP = {"width": 1440, "height": 900}
SIZES = {"phone": PHONE, "tablet": TABLET, "desktop": DESKTOP}


@cache
def axe_source() -> str:
    """axe-core's script, installed from the npm registry the first time (one installer at
    a time: a lock beside the folder)."""
    TOOLS.mkdir(parents=True, exist_ok=True)
    with open(TOOLS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not AXE_SCRIPT.exists():
            npm = shutil.which("npm")
            assert npm, "the accessibility audit needs npm (apt-get install npm)"
            subprocess.run(
                [npm, "install", "--prefix", str(TOOLS), "--no-save", "--no-audit", "--no-fund",
                 "--loglevel=error", AXE_PACKAGE],
                check=True, timeout=300,
            )  # fmt: skip
    return AXE_SCRIPT.read_text()


def audit(page: Page, open_details: bool = True) -> list[dict]:
    """The page's serious and critical accessibility violations as axe-core reports them
    (WCAG 2.1 A and AA rules and axe's best practices). With `open_details`, every folded
    <details> is opened first, so the forms inside are audited too."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    if open_details:
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
    results = page.evaluate(
        "tags => axe.run(document, {runOnly: tags, resultTypes: ['violations']})",
        RULES,
    )
    return [v for v in results["violations"] if v["impact"] in BLOCKING]


def describe(violations: list[dict], where: str = "") -> str:
    """One line a violation: where, rule id, impact, what to do, the first three elements."""
    lines = []
    for violation in violations:
        nodes = violation["nodes"]
        targets = ", ".join(" ".join(map(str, node["target"])) for node in nodes[:3])
        more = f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""
        why = (nodes[0].get("failureSummary") or "").replace("\n", " ") if nodes else ""
        lines.append(
            f"{where}{violation['id']} ({violation['impact']}): {violation['help']}"
            f" — {targets}{more}. {why}"
        )
    return "\n".join(lines)
