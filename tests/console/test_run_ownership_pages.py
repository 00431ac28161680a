"""The console's runs of a charger that moved from Acme to Rival: each operator's engineer
lists, filters and opens its own runs (the run page, the escalation checklist) and none of
the other's; Acme's page says the charger is no longer in its fleet, and a move on its
closed run is refused with a message."""

import json

import pytest

from diagnostics.models import RunbookExecution
from diagnostics.services.loader import load_faults, load_runbooks
from tests.diagnostics.test_run_ownership import (
    PREPARING,
    RUNS,
    SECRET_NOTE,
    charger,
    move,
    sites,
    started,
)

pytestmark = pytest.mark.django_db
FIXTURES = (sites, charger)


@pytest.fixture(autouse=True)
def content():
    load_faults()
    load_runbooks()


def test_the_console_shows_each_operator_its_own_runs_of_a_moved_charger(
    api, acme, rival, sites, charger, signed_in
):
    rival_site = sites[1]
    escalated = started(api, acme[1], charger, PREPARING)
    body = {"note": SECRET_NOTE}
    assert api.post(f"{RUNS}/{escalated}/escalate", body, acme[1]).status_code == 200
    open_run = started(api, acme[1], charger)
    move(charger, rival_site)
    rival_run = started(api, rival[1], charger)
    acme_browser = signed_in("Acme Charging", "engineer")
    rival_browser = signed_in("Rival Energy", "engineer")

    for browser, own, foreign in [
        (acme_browser, {escalated, open_run}, {rival_run}),
        (rival_browser, {rival_run}, {escalated, open_run}),
    ]:
        for listing in ("/runs/", f"/runs/?device={charger.device_id}"):
            page = browser.get(listing).content.decode()
            assert all(f"/runs/{run_id}/" in page for run_id in own), listing
            assert not any(f"/runs/{run_id}/" in page for run_id in foreign), listing
        for run_id in own:
            assert browser.get(f"/runs/{run_id}/").status_code == 200
        for run_id in foreign:
            assert browser.get(f"/runs/{run_id}/").status_code == 404
            assert browser.get(f"/runs/{run_id}/escalation.json").status_code == 404

    page = acme_browser.get(f"/runs/{open_run}/").content.decode()
    assert "no longer in your fleet" in page and "the charger moved to another operator" in page
    assert f'href="/devices/{charger.device_id}/"' not in page  # a page Acme cannot open
    checklist = acme_browser.get(f"/runs/{escalated}/escalation.json")
    assert checklist.status_code == 200
    assert json.loads(checklist.content)["escalation"]["note"] == SECRET_NOTE
    # Acme's engineer is told the run can change no more; nothing changes.
    answer = acme_browser.post(f"/runs/{open_run}/resolve/", {"note": "x"}, follow=True)
    assert "Nothing was changed: This run is already closed" in answer.content.decode()
    assert RunbookExecution.objects.get(run_id=open_run).status == "closed"
