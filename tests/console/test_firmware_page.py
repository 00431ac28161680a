"""The console's Firmware pages: the versions an operator's chargers run, each with the
known issues of the fault dictionary and the model's latest stable build; the campaigns
with their progress; a campaign's stages and chargers, pushed live as chargers report;
and starting a campaign (operator role and above) from a prefilled form, confirmed in
words first, its refusals shown as form errors. Viewers read and cannot act; another
operator's campaign does not exist here."""

import asyncio
from html import unescape

import pytest
from django.db import connections
from django.utils import timezone

from console.web.live_pages import CAMPAIGN_PAGE
from diagnostics.services.detectors import firmware_rollout_halted, run_detector
from diagnostics.services.loader import load_faults
from fleet.actors import Actor
from fleet.models import CampaignDevice, FirmwareCampaign
from fleet.services.firmware import report_firmware_status
from fleet.services.firmware_campaigns import create_campaign, drive_campaigns, pause_campaign
from tests.console.test_live_updates import close_code, cookie_of, opened, received, socket, texts

ACME = "Acme Charging"
RIVAL = "Rival Energy"
PACKAGE = "https://firmware.example.com/tp-dc180/3.1.0.bin"


@pytest.fixture
def fleet(acme, rival, site_for, assigned_device):
    """Acme: three TP-DC180 on 3.0.1 (inside F-0421's known issue) at three sites, one
    TP-DC180 already on 3.1.0; Rival: one charger on 3.0.1."""
    load_faults()
    sites = [site_for(acme.client, name) for name in ("Depot", "Harbour", "Yard")]
    affected = [
        assigned_device(
            acme.client, on, sn=f"SN-FW-{n}", model="TP-DC180", firmware_version="3.0.1"
        )
        for n, on in enumerate(sites, start=1)
    ]
    current = assigned_device(acme.client, sites[0], sn="SN-FW-9", firmware_version="3.1.0")
    theirs = assigned_device(
        rival.client, site_for(rival.client, "Rival Yard"), firmware_version="3.0.1"
    )
    return {
        "acme": acme,
        "rival": rival,
        "affected": affected,
        "current": current,
        "theirs": theirs,
    }


def campaign_of(account, devices, **fields) -> FirmwareCampaign:
    arguments = {
        "name": "TP-DC180 to 3.1.0",
        "target_version": "3.1.0",
        "package_url": PACKAGE,
        "device_ids": [device.device_id for device in devices],
        "stages": [100],
        **fields,
    }
    return create_campaign(Actor.for_client(account.client), **arguments)


def start_form(**overrides) -> dict:
    """What a person posts from the start form prefilled for F-0421."""
    return {
        "name": "TP-DC180 to 3.1.0 (fix F-0421)",
        "target_version": "3.1.0",
        "package_url": PACKAGE,
        "which": "versions",
        "model": "TP-DC180",
        "from_versions": "3.0.1",
        "devices": "",
        "stages": "100",
        "health_window_minutes": "30",
        "halt_failed_percent": "25",
        "halt_fault_codes": "F-0421",
        "halt_factor": "2",
        "fault_code": "F-0421",
        **overrides,
    }


# --- The Firmware page ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "engineer", "operator", "admin"])
def test_every_role_sees_the_versions_with_their_known_issues_and_the_latest_build(
    fleet, signed_in, role
):
    page = signed_in(ACME, role).get("/firmware/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "TP-DC180" in text and "latest stable build: 3.1.0" in text
    assert "<strong>3.0.1</strong> — 3 chargers" in text
    assert "Known issue:" in text and 'href="/faults/F-0421/"' in text
    assert "(3.0.0\N{EN DASH}3.0.2, fixed in 3.0.3)" in text
    assert "<strong>3.1.0</strong> — 1 charger" in text
    may_start = role in ("operator", "admin")
    assert ('href="/firmware/campaigns/new/"' in text) is may_start
    assert "Rival Yard" not in text


def test_the_campaigns_are_listed_with_their_progress_and_filtered_by_status(fleet, signed_in):
    campaign_of(fleet["acme"], fleet["affected"])
    browser = signed_in(ACME, "viewer")
    text = browser.get("/firmware/").content.decode()
    assert "TP-DC180 to 3.1.0" in text
    assert "0 of 3 finished: 3 waiting" in text
    assert "Running" in text
    assert "TP-DC180 to 3.1.0" not in browser.get("/firmware/?status=completed").content.decode()
    refused = browser.get("/firmware/?status=%00")
    assert refused.status_code == 200 and "These filters cannot be used" in refused.content.decode()


# --- A campaign -----------------------------------------------------------------------------


def test_a_campaign_page_shows_its_stages_and_every_charger(fleet, signed_in):
    campaign = campaign_of(fleet["acme"], fleet["affected"], stages=[50, 100])
    text = (
        signed_in(ACME, "viewer")
        .get(f"/firmware/campaigns/{campaign.campaign_id}/")
        .content.decode()
    )
    assert "Stage 1</strong> — up to 50 % of the chargers · 2 chargers" in text
    assert "Stage 2</strong> — up to 100 % of the chargers · 1 charger" in text
    for device in fleet["affected"]:
        assert f'href="/devices/{device.device_id}/">{device.sn}</a>' in text
    assert "3.0.1 → 3.1.0" in text and "Depot" in text and "Harbour" in text
    assert "No halt rules: only you stop it." in text
    # A viewer reads; the buttons are the operator role's.
    assert "Pause</button>" not in text and "Cancel…" not in text


def test_a_campaign_page_says_what_happens_next_and_when(fleet, signed_in):
    campaign = campaign_of(
        fleet["acme"], fleet["affected"], stages=[50, 100], health_window_minutes=30
    )
    drive_campaigns()
    viewer = signed_in(ACME, "viewer")
    page = f"/firmware/campaigns/{campaign.campaign_id}/"
    text = unescape(viewer.get(page).content.decode())
    assert "Next:</strong> Waiting for 2 chargers of stage 1 to finish upgrading" in text

    for row in campaign.devices.filter(stage=0):
        report_firmware_status(row.device_id, "3.1.0", "success")
    text = unescape(viewer.get(page).content.decode())
    assert "Next:</strong> Stage 2 starts at" in text
    assert "unless a halt rule is met first." in text

    pause_campaign(Actor.for_client(fleet["acme"].client), campaign.campaign_id)
    text = unescape(viewer.get(page).content.decode())
    assert "Paused: no upgrade is sent until you resume." in text


def test_a_viewer_cannot_pause_and_an_operator_pauses_resumes_and_cancels_after_confirming(
    fleet, signed_in
):
    campaign = campaign_of(fleet["acme"], fleet["affected"])
    url = f"/firmware/campaigns/{campaign.campaign_id}/"
    assert signed_in(ACME, "viewer").post(f"{url}pause/").status_code == 403
    operator = signed_in(ACME, "operator")
    assert "Pause</button>" in operator.get(url).content.decode()
    operator.post(f"{url}pause/")
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    again = operator.post(f"{url}pause/", follow=True).content.decode()
    assert "Nothing was changed:" in again  # the service's refusal, as words
    operator.post(f"{url}resume/")
    campaign.refresh_from_db()
    assert campaign.status == "running"
    asked = operator.post(f"{url}cancel/").content.decode()
    assert "Confirm: cancel this campaign" in asked
    campaign.refresh_from_db()
    assert campaign.status == "running"  # only asked
    operator.post(f"{url}cancel/", {"confirmed": "yes"})
    campaign.refresh_from_db()
    assert campaign.status == "cancelled"
    assert operator.post(f"{url}explode/").status_code == 302  # an unknown move changes nothing


def test_a_halted_campaign_says_why_and_what_to_do(fleet, signed_in):
    campaign = campaign_of(fleet["acme"], fleet["affected"])
    FirmwareCampaign.objects.filter(pk=campaign.pk).update(
        status="halted",
        halt_reason="2 of 3 upgraded chargers failed (66.7 %, above the 25 % limit)",
        halted_at=timezone.now(),
    )
    operator = signed_in(ACME, "operator")
    text = operator.get(f"/firmware/campaigns/{campaign.campaign_id}/").content.decode()
    assert 'class="halt-reason" role="alert"' in text
    assert "2 of 3 upgraded chargers failed" in text
    assert "<strong>resume</strong>" in text and "<strong>cancel</strong>" in text
    assert "Resume</button>" in text and "Pause</button>" not in text

    # The halt is an alert, and the alert leads to the rollout.
    run_detector(firmware_rollout_halted, timezone.now())
    alerts = operator.get("/alerts/").content.decode()
    assert "Firmware rollout “TP-DC180 to 3.1.0” halted" in unescape(alerts)
    assert f'href="/firmware/campaigns/{campaign.campaign_id}/">Open the rollout</a>' in alerts
    assert "halted rollout" in alerts


def test_another_operators_campaign_is_not_found(fleet, signed_in):
    theirs = campaign_of(fleet["rival"], [fleet["theirs"]])
    browser = signed_in(ACME, "admin")
    assert browser.get(f"/firmware/campaigns/{theirs.campaign_id}/").status_code == 404
    assert (
        browser.post(
            f"/firmware/campaigns/{theirs.campaign_id}/cancel/", {"confirmed": "yes"}
        ).status_code
        == 404
    )
    assert browser.get("/firmware/campaigns/fwc_nothing/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "running"
    assert theirs.name not in browser.get("/firmware/").content.decode()


# --- Starting a campaign --------------------------------------------------------------------


def test_the_start_form_is_prefilled_from_the_link(fleet, signed_in):
    query = "model=TP-DC180&from_version=3.0.1&fault_code=F-0421"
    text = signed_in(ACME, "operator").get(f"/firmware/campaigns/new/?{query}").content.decode()
    assert "Start a firmware campaign to fix F-0421" in text
    assert 'name="target_version" value="3.1.0"' in text  # the model's latest stable
    assert 'name="model" value="TP-DC180"' in text
    assert 'name="from_versions" value="3.0.1"' in text
    assert 'name="halt_fault_codes" value="F-0421"' in text
    devices = "&".join(f"device={d.sn}" for d in fleet["affected"][:2])
    listed = (
        signed_in(ACME, "admin", "admin-2")
        .get(f"/firmware/campaigns/new/?{devices}")
        .content.decode()
    )
    assert 'value="devices" required id="id_which_1" checked' in listed
    assert "SN-FW-1\nSN-FW-2" in listed


def test_the_start_form_proposes_one_stage_for_a_charger_or_two(fleet, signed_in):
    operator = signed_in(ACME, "operator")
    few = operator.get("/firmware/campaigns/new/?model=TP-DC180&from_version=3.1.0")
    assert 'name="stages" value="100"' in few.content.decode()
    many = operator.get("/firmware/campaigns/new/?model=TP-DC180&from_version=3.0.1")
    assert 'name="stages" value="10, 50, 100"' in many.content.decode()


def test_viewers_and_engineers_cannot_start_a_campaign(fleet, signed_in):
    for role in ("viewer", "engineer"):
        browser = signed_in(ACME, role)
        assert browser.get("/firmware/campaigns/new/").status_code == 403
        assert (
            browser.post(
                "/firmware/campaigns/new/", {**start_form(), "confirmed": "yes"}
            ).status_code
            == 403
        )
    assert not FirmwareCampaign.objects.exists()


def test_the_confirmation_says_what_goes_where_and_when_then_the_campaign_starts(fleet, signed_in):
    operator = signed_in(ACME, "operator")
    shown = operator.post("/firmware/campaigns/new/", start_form())
    text = shown.content.decode()
    assert (
        "Upgrade 3 chargers (TP-DC180 on 3.0.1, at 3 sites: Depot, Harbour and Yard) to 3.1.0 "
        "to fix F-0421 in 1 stage: all 3 now. Halt if more than 25 % fail, or if upgraded "
        "chargers report F-0421 more than 2 times as often as they did before"
    ) in text
    assert not FirmwareCampaign.objects.exists()  # only shown
    created = operator.post("/firmware/campaigns/new/", {**start_form(), "confirmed": "yes"})
    campaign = FirmwareCampaign.objects.get()
    assert created.status_code == 302
    assert created["Location"] == f"/firmware/campaigns/{campaign.campaign_id}/"
    assert campaign.halt_if["fault_codes"] == ["F-0421"]
    assert campaign.halt_if["failed_percent"] == 25.0
    assert campaign.devices.count() == 3


def test_stages_are_said_in_chargers_and_minutes(fleet, signed_in, assigned_device, site_for):
    depot = site_for(fleet["acme"].client, "Depot 2")
    for _ in range(7):
        assigned_device(fleet["acme"].client, depot, model="TP-DC180", firmware_version="3.0.1")
    text = (
        signed_in(ACME, "operator")
        .post(
            "/firmware/campaigns/new/", start_form(stages="10, 50, 100", health_window_minutes="90")
        )
        .content.decode()
    )
    assert (
        "Upgrade 10 chargers (TP-DC180 on 3.0.1, at 4 sites: Depot, Depot 2, Harbour and 1 more)"
        in text
    )
    assert (
        "in 3 stages: 1 now (10 %); then 4 more (50 %) once the stage before has been healthy "
        "for 1 hour 30 minutes; then the remaining 5 once the stage before has been healthy "
        "for 1 hour 30 minutes."
    ) in text


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("stages", "50, 10", "larger than the one before"),
        ("stages", "10, 50", "The last stage must be 100 %"),
        ("stages", "1e309", "whole percents"),
        ("halt_factor", "inf", "Enter a number"),
        ("halt_factor", "nan", "Enter a number"),
        ("health_window_minutes", "99999999999999999999", "less than or equal"),
        ("package_url", "ftp://x", "Enter a valid URL"),
        ("name", "a\x00b", "Null characters are not allowed"),
        ("from_versions", "9.9.9", "None of your chargers is a TP-DC180 on 9.9.9"),
        ("halt_fault_codes", "DROP TABLE", "Fault codes look like F-0421"),
    ],
)
def test_refused_input_shows_as_form_errors_with_everything_typed_kept(
    fleet, signed_in, field, value, said
):
    page = signed_in(ACME, "operator").post(
        "/firmware/campaigns/new/", {**start_form(**{field: value}), "confirmed": "yes"}
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert said in text
    assert 'name="model" value="TP-DC180"' in text  # what was typed is still there
    assert not FirmwareCampaign.objects.exists()


def test_a_refusal_of_the_service_shows_as_a_form_error(fleet, signed_in):
    """Another campaign holds the chargers named one by one: the service's 409 is words on
    the form, nothing is created."""
    campaign_of(fleet["acme"], fleet["affected"][:1])
    form = start_form(which="devices", devices=fleet["affected"][0].sn)
    page = signed_in(ACME, "operator").post(
        "/firmware/campaigns/new/", {**form, "confirmed": "yes"}
    )
    assert page.status_code == 200
    assert "Not started" in page.content.decode()
    assert FirmwareCampaign.objects.count() == 1


def test_another_operators_charger_cannot_be_named(fleet, signed_in):
    form = start_form(which="devices", devices=fleet["theirs"].device_id)
    text = signed_in(ACME, "operator").post("/firmware/campaigns/new/", form).content.decode()
    assert f"Not one of your chargers: {fleet['theirs'].device_id}" in text
    assert not FirmwareCampaign.objects.exists()


def test_change_something_goes_back_to_the_form_with_what_was_typed(fleet, signed_in):
    text = (
        signed_in(ACME, "operator")
        .post("/firmware/campaigns/new/", {**start_form(name="My rollout"), "edit": "1"})
        .content.decode()
    )
    assert 'value="My rollout"' in text and "Review the plan" in text and "Not started" not in text


# --- The fault entry ------------------------------------------------------------------------


def test_the_fault_entry_offers_to_upgrade_the_affected_chargers_to_the_operator_role(
    fleet, signed_in
):
    text = signed_in(ACME, "operator").get("/faults/F-0421/").content.decode()
    assert "Upgrade the 3 TP-DC180 chargers on 3.0.1 to 3.1.0" in text
    assert (
        'href="/firmware/campaigns/new/?model=TP-DC180&amp;target_version=3.1.0&amp;'
        'from_version=3.0.1&amp;fault_code=F-0421"'
    ) in text
    assert "Upgrade the" not in signed_in(ACME, "viewer").get("/faults/F-0421/").content.decode()
    # A code with no known firmware issue offers nothing.
    assert "Upgrade the" not in signed_in(ACME, "admin").get("/faults/F-0203/").content.decode()


# --- Live -----------------------------------------------------------------------------------


def charger_reports(device_id: str) -> None:
    """The charger's firmware report, as its endpoint records it (in a thread of its own,
    whose connection is closed after)."""
    try:
        report_firmware_status(device_id, "3.1.0", "downloading", 40, "fetching")
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_chargers_report_moves_its_row_on_an_open_campaign_page(fleet, console_user):
    campaign = campaign_of(fleet["acme"], fleet["affected"])
    device = fleet["affected"][0]
    cookie = cookie_of(console_user("fw-watcher", ACME))
    rival_cookie = cookie_of(console_user("fw-rival", RIVAL))

    async def watch() -> tuple[list[str], int | None]:
        page = socket(f"page=campaign&id={campaign.campaign_id}", cookie)
        await opened(page)
        await asyncio.to_thread(charger_reports, device.device_id)
        pushed = texts(await received(page, 3.0))
        await page.disconnect()
        theirs = socket(f"page=campaign&id={campaign.campaign_id}", rival_cookie)
        await theirs.connect()
        refused = close_code(await received(theirs, 2.0))
        await theirs.disconnect()
        return pushed, refused

    pushed, refused = asyncio.run(watch())
    row = CampaignDevice.objects.get(campaign=campaign, device=device)
    assert row.state == "downloading"
    joined = "".join(pushed)
    assert 'id="campaign-devices"' in joined and 'id="campaign-stages"' in joined
    assert "downloading 40 %: fetching" in joined
    assert refused == 4404  # another operator's campaign: nothing to show
    assert CAMPAIGN_PAGE.triggers["firmware_campaign.changed"]


def test_the_page_names_its_socket(fleet, signed_in):
    campaign = campaign_of(fleet["acme"], fleet["affected"])
    text = (
        signed_in(ACME, "viewer")
        .get(f"/firmware/campaigns/{campaign.campaign_id}/")
        .content.decode()
    )
    assert f'data-live="/console/live?page=campaign&amp;id={campaign.campaign_id}"' in text
