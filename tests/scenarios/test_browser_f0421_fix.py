"""The F-0421 field case from diagnosis to fix in a real browser, on the simulated fleet:
an operator runs the power-up runbook on a charger of the cluster, the run ends
"Diagnosed — action needed", the rollout is started from its outcome, a real Celery
worker drives it while the simulated chargers download, install and reboot into 3.1.0
(the campaign page moving live), and running the runbook again resolves once the charger
has charged on the new build without the fault."""

import re

import pytest
from playwright.sync_api import expect

from console.web.services.people import create_console_user
from fleet.actors import Actor
from fleet.models import Device
from tests.celery_worker import WorkerProcess, worker_database_url
from tests.console.test_browser_diagnosis_to_fix import follow, to_the_rollout_step
from tests.console.test_browser_flows import TABLET, launched_chromium
from tests.console.test_browser_runs import start_power_up_run
from tests.live_server import eventually
from tests.scenarios.cases import CASES
from tests.scenarios.field import OPERATOR, faults, field_fleet, sweep

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
PACKAGE = "https://firmware.example.com/tp-dc180/3.1.0.bin"


def test_an_operator_takes_the_cluster_from_diagnosis_to_a_verified_fix(
    server, tmp_path, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM beside Playwright
    case = CASES["f0421-cluster"]
    with field_fleet(server, tmp_path, [case.scenario], chargers=3):
        eventually(lambda: faults("F-0421") >= 6, 120, "F-0421 twice on each of three")
        sweep()
        _, password = create_console_user(Actor.platform(), "field-operator", OPERATOR, "operator")
        charger = Device.objects.filter(firmware_version="3.0.1").order_by("device_id").first()
        worker = WorkerProcess(
            tmp_path, worker_database_url(), {"TELLUS_CAMPAIGN_INTERVAL_SECONDS": "1"}
        )
        worker.start()
        try:
            with launched_chromium() as chromium:
                page = chromium.new_page(viewport=TABLET)
                page.goto(f"{server.url}/login/")
                page.get_by_label("Username").fill("field-operator")
                page.get_by_label("Password").fill(password)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{server.url}/")

                start_power_up_run(page, server, charger.device_id)
                to_the_rollout_step(page)
                follow(page, "Upgrade needed")
                expect(page.locator("#ended-heading")).to_have_text("Diagnosed — action needed")
                run_url = page.url

                page.get_by_role("link", name=re.compile("Start a firmware rollout")).click()
                page.get_by_label("Package URL").fill(PACKAGE)
                page.get_by_label("Stages (% of the chargers, cumulative)").fill("100")
                page.get_by_label("Health window between stages (minutes)").fill("1")
                page.get_by_role("button", name="Review the plan").click()
                expect(page.locator(".plan")).to_contain_text(
                    "Upgrade 3 chargers (TP-DC180 on 3.0.1"
                )
                page.get_by_role("button", name="Start: upgrade 3 chargers").click()
                # The simulated chargers take the upgrade; the page follows them live.
                devices = page.locator("#campaign-devices")
                expect(devices.get_by_text("upgraded")).to_have_count(3, timeout=120_000)
                expect(page.locator("#head-heading")).to_contain_text(
                    "3 of 3 chargers finished", timeout=30_000
                )

                page.goto(run_url)
                page.get_by_role("button", name="Run this runbook again to verify the fix").click()
                to_the_rollout_step(page)
                follow(page, "Firmware current")
                expect(page.locator("#current-heading")).to_contain_text("Verify the fix")
                check = page.locator("#step-check")
                follow_button = page.get_by_role("button", name="Follow the check's result")
                for _ in range(60):  # a session on 3.1.0 comes within seconds at 100x
                    if follow_button.count():
                        break
                    page.wait_for_timeout(1000)
                    again = page.get_by_role("button", name="Check again")
                    if again.count():
                        again.first.click()
                        page.wait_for_load_state()
                expect(check).to_contain_text("Fixed")
                follow_button.click()
                expect(page.locator("#ended-heading")).to_have_text("Resolved")
        finally:
            worker.stop()
