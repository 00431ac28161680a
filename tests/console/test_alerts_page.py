"""The alerts inbox: an operator's alerts in a compact table, most severe first, with
their evidence and history folded beneath each row, active ones by default; engineers and
above move them (with a note, one or the ticked ones at once) through the API's service,
audited with the user as actor, and start an alert's suggested runbook; viewers only look;
another operator's alerts do not exist here."""

import re
from datetime import timedelta

import pytest
from django.http import QueryDict
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from console.web import live_pages
from console.web.access import ConsoleAccess
from console.web.forms.alerts import DETECTOR_WORDS, AlertFilterForm
from console.web.roles import Role
from console.web.views.alerts import alert_list_context
from diagnostics.models import Alert, AlertTransition, RunbookExecution
from diagnostics.services import detectors
from diagnostics.services.loader import load_faults, load_runbooks
from diagnostics.services.runbooks import engine
from fleet.actors import Actor
from fleet.models import AuditEntry, Connector
from tests.diagnostics.test_alerts import fault

pytestmark = pytest.mark.django_db

ACME = "Acme Charging"


@pytest.fixture
def fleets(make_client, site_for, assigned_device):
    acme, _ = make_client(ACME)
    rival, _ = make_client("Rival Energy")
    depot = site_for(acme, "Acme Depot")
    yard = site_for(acme, "Acme Yard")
    ours = assigned_device(acme, depot, model="TP-DC180", firmware_version="3.0.1")
    other = assigned_device(acme, yard)
    theirs = assigned_device(rival, site_for(rival, "Rival Yard"))
    return {"acme": acme, "rival": rival, "ours": ours, "other": other, "theirs": theirs}


counter = iter(range(1_000_000))


def make_alert(device, minutes_ago: int = 5, **fields) -> Alert:
    """An alert on `device` as a detector leaves it (the detectors' own rules are covered
    in tests/diagnostics)."""
    last = timezone.now() - timedelta(minutes=minutes_ago)
    n = next(counter)
    values = {
        "alert_id": f"alt_test{n:06d}",
        "operator_id": device.site.operator_id,
        "device": device,
        "site": device.site,
        "detector": "over_temperature",
        "subject": f"{device.device_id}#{n}",
        "fault_code": "F-0203",
        "severity": Alert.Severity.MEDIUM,
        "title": f"Connector 1 at 80.{n % 10} °C",
        "evidence": {"connector_id": 1, "temperature": 80.5, "limit_c": 75, "samples": 4},
        "fact_count": 4,
        "first_seen": last - timedelta(minutes=3),
        "last_seen": last,
        "window_start": last - timedelta(minutes=15),
        **fields,
    }
    return Alert.objects.create(**values)


@pytest.fixture
def repeat_fault_alert(fleets) -> Alert:
    """A real detector's alert: F-0411 three times on our charger."""
    load_faults()
    load_runbooks()
    for minutes in (30, 20, 10):
        fault(fleets["ours"], "F-0411", minutes)
    detectors.run_detector(detectors.repeat_fault, timezone.now())
    return Alert.objects.get()


def inbox(browser: Client, query: dict | None = None, **headers):
    return browser.get("/alerts/", query or {}, **headers)


def act(browser: Client, alert: Alert, action: str, query: str = "", **data):
    url = f"/alerts/{alert.alert_id}/{action}/" + (f"?{query}" if query else "")
    return browser.post(url, data)


def shown(response) -> list[str]:
    return [alert.alert_id for alert in response.context["page"].items]


def unchanged(alert: Alert) -> bool:
    before = alert.status
    alert.refresh_from_db()
    return (
        alert.status == before
        and not AlertTransition.objects.filter(alert=alert).exists()
        and not AuditEntry.objects.filter(resource_type="alert").exists()
    )


# --- Listing ------------------------------------------------------------------------------------


def test_alerts_of_one_severity_are_listed_most_recently_seen_first(fleets, signed_in):
    older = make_alert(fleets["ours"], minutes_ago=60)
    newest = make_alert(fleets["other"], minutes_ago=1)
    middle = make_alert(fleets["ours"], minutes_ago=10)
    response = inbox(signed_in(ACME))
    assert response.status_code == 200
    assert shown(response) == [newest.alert_id, middle.alert_id, older.alert_id]


def test_the_most_severe_come_first_then_the_most_recently_seen(fleets, signed_in):
    made = [
        ("medium-new", make_alert(fleets["ours"], minutes_ago=1, severity="medium")),
        ("low-new", make_alert(fleets["ours"], minutes_ago=2, severity="low")),
        ("high-old", make_alert(fleets["ours"], minutes_ago=90, severity="high")),
        ("critical-old", make_alert(fleets["other"], minutes_ago=300, severity="critical")),
        ("high-new", make_alert(fleets["other"], minutes_ago=3, severity="high")),
        ("medium-old", make_alert(fleets["other"], minutes_ago=50, severity="medium")),
    ]
    names = {alert.alert_id: name for name, alert in made}
    listed = [names[alert_id] for alert_id in shown(inbox(signed_in(ACME)))]
    assert listed == [
        "critical-old", "high-new", "high-old", "medium-new", "medium-old", "low-new",
    ]  # fmt: skip


def test_each_row_says_what_where_when_and_how_often_compactly(
    repeat_fault_alert, fleets, signed_in
):
    device = fleets["ours"]
    html = inbox(signed_in(ACME)).content.decode()
    row = html.split(f'<tr id="alert-{repeat_fault_alert.alert_id}"')[1].split("</tr>")[0]
    assert f'<summary aria-controls="alert-{repeat_fault_alert.alert_id}-more">' in row
    assert repeat_fault_alert.title in row
    assert 'Repeated fault · <a href="/faults/F-0411/">F-0411</a>' in row  # kind, code, title
    assert "repeat_fault" not in row
    assert device.sn in row and "Acme Depot" in row
    opened = repeat_fault_alert.created_at.strftime("%Y-%m-%d %H:%M")
    assert f"{opened} UTC</time>" in row and "ago</span>" in row
    assert '<span class="badge alert-open">open</span>' in row
    assert '<td class="count">3<br>' in row


def test_each_alerts_evidence_row_shows_its_subject_evidence_and_runbook_readably(
    repeat_fault_alert, fleets, signed_in
):
    device = fleets["ours"]
    html = inbox(signed_in(ACME)).content.decode()
    assert repeat_fault_alert.title in html  # "F-0411 reported 3 times"
    assert '<span class="severity high">high</span>' in html
    assert f'href="/devices/{device.device_id}/"' in html and device.sn in html
    assert "Acme Depot" in html
    assert "3 fault events" in html
    more = html.split(f'<tr id="alert-{repeat_fault_alert.alert_id}-more"')[1].split("</tr>")[0]
    assert '<a href="/runbooks/charger-faulting-on-power-up/">' in more
    first_seen = repeat_fault_alert.first_seen.strftime("%Y-%m-%d %H:%M:%S")
    assert f"{first_seen} UTC</time>" in html
    listed = html.split('id="alert-list"')[1]
    assert "{&quot;" not in listed and '{"' not in listed  # no raw JSON


def test_evidence_is_shown_as_labelled_values(fleets, signed_in):
    make_alert(
        fleets["ours"],
        detector="heartbeat_lost",
        evidence={
            "count": 2,
            "first": "2026-01-02T03:04:05+00:00",
            "details": {"last_heartbeat": "12:00", "missed": 3},
        },
    )
    html = inbox(signed_in(ACME)).content.decode()
    details = html.split("<dt>Details</dt><dd>")[1].split("</dd>")[0]
    assert sorted(details.split("; ")) == ["last heartbeat: 12:00", "missed: 3"]
    assert "2 platform events" not in html  # fact_count (4) is what the alert covers
    assert "4 platform events" in html


def test_evidence_reads_in_a_fixed_order_without_repeating_the_count(fleets, signed_in):
    make_alert(fleets["ours"])  # over_temperature: connector 1, 80.5 °C, limit 75, 4 samples
    html = re.sub(r">\s+<", "><", inbox(signed_in(ACME)).content.decode())
    assert (
        "<dt>Connector</dt><dd>1</dd>"
        "<dt>Peak temperature (°C)</dt><dd>80.5</dd>"
        "<dt>Limit (°C)</dt><dd>75</dd>"
    ) in html
    assert "<dd>4 samples over the limit</dd>" in html
    assert "Samples" not in html


def test_each_alert_shows_its_history_with_who_when_and_the_note(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    engineer = signed_in(ACME, "engineer", username="erin")
    act(engineer, alert, "acknowledge", note="Swapping the fan on Tuesday")
    html = inbox(signed_in(ACME)).content.decode()
    assert "erin · open → <strong>acknowledged</strong>: “Swapping the fan on Tuesday”" in html


def test_only_active_alerts_are_shown_by_default(fleets, signed_in):
    device = fleets["ours"]
    opened = make_alert(device, minutes_ago=1)
    acknowledged = make_alert(device, minutes_ago=2, status="acknowledged")
    make_alert(device, minutes_ago=3, status="resolved")
    make_alert(device, minutes_ago=4, status="dismissed")
    response = inbox(signed_in(ACME))
    assert shown(response) == [opened.alert_id, acknowledged.alert_id]
    assert len(shown(inbox(signed_in(ACME, username="v2"), {"status": "all"}))) == 4


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"status": "resolved"}, ["resolved"]),
        ({"status": "open"}, ["open-high", "open-yard", "stuck"]),
        ({"status": "active", "severity": "high"}, ["open-high"]),
        ({"severity": "low"}, ["stuck"]),
        ({"severity": "critical"}, []),
        ({"site": "YARD"}, ["open-yard", "stuck"]),
        ({"device": "OURS", "status": "all"}, ["open-high", "acknowledged", "resolved"]),
        ({"device": "OURS-SERIAL"}, ["open-high", "acknowledged"]),
        ({"device": "SN-NOBODY"}, []),
        ({"detector": "stuck_preparing"}, ["stuck"]),
        ({"detector": "over_temperature", "severity": "medium"}, ["open-yard", "acknowledged"]),
        ({"fault_code": "F-0330"}, ["stuck"]),
        ({"fault_code": "F-0330", "device": "OURS-SERIAL"}, []),
    ],
)
def test_filters_narrow_the_list(fleets, signed_in, query, expected):
    ours, other = fleets["ours"], fleets["other"]
    made = {
        "open-high": make_alert(ours, minutes_ago=1, severity="high"),
        "open-yard": make_alert(other, minutes_ago=2),
        "acknowledged": make_alert(ours, minutes_ago=3, status="acknowledged"),
        "resolved": make_alert(ours, minutes_ago=4, status="resolved"),
        "stuck": make_alert(
            other, minutes_ago=5, detector="stuck_preparing", fault_code="F-0330", severity="low"
        ),
    }
    aliases = {"YARD": other.site_id, "OURS": ours.device_id, "OURS-SERIAL": ours.sn}
    query = {name: aliases.get(value, value) for name, value in query.items()}
    response = inbox(signed_in(ACME), query)
    assert shown(response) == [made[name].alert_id for name in expected]


def test_filters_are_offered_in_words_and_kept_in_the_query_string(fleets, signed_in):
    make_alert(fleets["ours"], severity="high")
    for n in range(21):
        make_alert(fleets["ours"], minutes_ago=n + 2, severity="high")
    query = {"severity": "high", "detector": "over_temperature", "device": fleets["ours"].sn}
    html = inbox(signed_in(ACME), query).content.decode()
    assert '<option value="over_temperature" selected>Over-temperature</option>' in html
    assert "Charger (serial or id)" in html and f'value="{fleets["ours"].sn}"' in html
    assert (
        f"?severity=high&amp;detector=over_temperature&amp;device={fleets['ours'].sn}&amp;page=2"
    ) in html  # the pager keeps the filters


def test_every_detector_is_offered_and_named_in_words():
    assert set(DETECTOR_WORDS) == set(detectors.ALERT_DETECTORS)
    assert all("_" not in words for words in DETECTOR_WORDS.values())


def test_an_htmx_filter_request_gets_the_list_fragment_alone(fleets, signed_in):
    high = make_alert(fleets["ours"], severity="high")
    low = make_alert(fleets["ours"], severity="low")
    response = inbox(signed_in(ACME), {"severity": "high"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="alert-list"')
    assert f'id="alert-{high.alert_id}"' in html and low.alert_id not in html
    assert "<html" not in html and 'role="search"' not in html


def test_an_htmx_history_restore_gets_the_whole_page(fleets, signed_in):
    make_alert(fleets["ours"])
    response = inbox(
        signed_in(ACME), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"status": "exploded"},
        {"severity": "apocalyptic"},
        {"page": "0"},
        {"page": "x"},
        {"device": "dvc\x00"},
        {"device": "x" * 65},
        {"site": "s" * 500},
        {"detector": "everything"},
        {"fault_code": "F" * 33},
        {"fault_code": "F-04\x0011"},
    ],
)
def test_bad_filters_get_a_message_not_an_error(fleets, signed_in, query):
    make_alert(fleets["ours"])
    response = inbox(signed_in(ACME), query)
    assert response.status_code == 200
    assert response.context["page"] is None
    assert 'role="alert"' in response.content.decode()


def test_the_list_pages_through_many_alerts(fleets, signed_in):
    for minutes in range(25):
        make_alert(fleets["ours"], minutes_ago=minutes)
    browser = signed_in(ACME)
    first, second = inbox(browser).context["page"], inbox(browser, {"page": 2}).context["page"]
    assert (first.total, len(first.items), len(second.items)) == (25, 20, 5)
    assert not {a.alert_id for a in first.items} & {a.alert_id for a in second.items}


def test_a_quiet_fleet_says_so_and_what_opens_an_alert(fleets, signed_in):
    make_alert(fleets["ours"], status="resolved")
    html = inbox(signed_in(ACME)).content.decode()
    assert "No active alerts: the fleet is quiet" in html
    assert "detectors check your chargers" in html


def test_filters_matching_nothing_say_how_to_widen_them(fleets, signed_in):
    make_alert(fleets["ours"], severity="high")
    html = inbox(signed_in(ACME), {"severity": "low"}).content.decode()
    assert "No alert matches these filters" in html


def test_another_operators_alerts_are_never_listed(fleets, signed_in):
    theirs = make_alert(fleets["theirs"], severity="critical")
    browser = signed_in(ACME, "admin")
    for query in (
        {},
        {"status": "all"},
        {"device": fleets["theirs"].device_id},
        {"device": fleets["theirs"].sn},
        {"site": fleets["theirs"].site_id},
        {"fault_code": theirs.fault_code, "status": "all"},
    ):
        response = inbox(browser, query)
        assert response.context["page"].total == 0
        html = response.content.decode()
        assert theirs.alert_id not in html and theirs.title not in html
        assert f"/devices/{fleets['theirs'].device_id}/" not in html
        assert "Rival Yard" not in html


def test_the_list_renders_from_the_context_function_alone(fleets, console_user):
    """What a push of new alerts (e.g. over a WebSocket) will render from."""
    alert = make_alert(fleets["ours"])
    user = console_user("watcher", ACME, "viewer")
    access = ConsoleAccess(user, fleets["ours"].site.operator, Role.VIEWER, False)
    html = render_to_string(
        "console/alerts/inbox.html#alert-list", alert_list_context(access, AlertFilterForm({}))
    )
    assert html.lstrip().startswith('<div id="alert-list"')
    assert f'id="alert-{alert.alert_id}"' in html


# --- Moving alerts ------------------------------------------------------------------------------


def test_an_engineer_acknowledges_with_a_note_audited_as_themselves(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    engineer = signed_in(ACME, "engineer", username="erin")
    assert f"/alerts/{alert.alert_id}/acknowledge/" in inbox(engineer).content.decode()

    response = act(engineer, alert, "acknowledge", note="On my way to the depot")
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    move = AlertTransition.objects.get(alert=alert)
    assert (move.from_status, move.to_status, move.note, move.by) == (
        "open",
        "acknowledged",
        "On my way to the depot",
        "user:erin",
    )
    entry = AuditEntry.objects.get(action="acknowledge_alert")
    assert (entry.actor, entry.operator_id, entry.resource_id) == (
        "user:erin",
        alert.operator_id,
        alert.alert_id,
    )
    assert entry.details == {"note": "On my way to the depot"}
    assert response.status_code == 302 and response["Location"] == "/alerts/"


def test_after_an_action_the_inbox_keeps_its_filters_and_says_what_happened(fleets, signed_in):
    alert = make_alert(fleets["ours"], severity="high")
    engineer = signed_in(ACME, "engineer")
    response = act(engineer, alert, "resolve", "status=all&severity=high&page=1", note="Fan fixed")
    assert response["Location"] == "/alerts/?status=all&severity=high&page=1"
    html = engineer.get(response["Location"]).content.decode()
    assert f"{alert.title} is now resolved." in html


def test_resolving_closes_the_alert(fleets, signed_in):
    alert = make_alert(fleets["ours"], status="acknowledged")
    act(signed_in(ACME, "operator"), alert, "resolve", note="Replaced the contactor")
    alert.refresh_from_db()
    assert alert.status == "resolved" and alert.closed_at is not None
    assert AuditEntry.objects.get(action="resolve_alert").after == {"status": "resolved"}


def test_dismissing_with_a_snooze_keeps_the_subject_quiet_until_then(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    act(
        signed_in(ACME, "engineer"), alert, "dismiss", note="Known sensor glitch", snooze_minutes=90
    )
    alert.refresh_from_db()
    assert alert.status == "dismissed"
    assert alert.snoozed_until == alert.closed_at + timedelta(minutes=90)
    entry = AuditEntry.objects.get(action="dismiss_alert")
    assert entry.after["snoozed_until"] == alert.snoozed_until.isoformat()


def test_dismissing_without_a_snooze_snoozes_nothing(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    act(signed_in(ACME, "engineer"), alert, "dismiss", note="Test charger", snooze_minutes="")
    alert.refresh_from_db()
    assert (alert.status, alert.snoozed_until) == ("dismissed", None)


def test_an_htmx_action_returns_the_alert_re_rendered_in_place(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    engineer = signed_in(ACME, "engineer", username="erin")
    response = engineer.post(
        f"/alerts/{alert.alert_id}/acknowledge/", {"note": "Looking"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    # The row, then its evidence row out of band, opened to show the outcome.
    row, more = html.split("</tr>")[:2]
    assert row.lstrip().startswith(f'<tr id="alert-{alert.alert_id}" class="alert-item alert-row"')
    assert '<details class="alert-expand" open>' in row
    assert f'<tr id="alert-{alert.alert_id}-more" class="alert-more" hx-swap-oob="true">' in more
    assert '<span class="badge alert-acknowledged">acknowledged</span>' in row
    assert "erin · open → <strong>acknowledged</strong>: “Looking”" in html
    assert f"/alerts/{alert.alert_id}/resolve/" in html  # what is still possible
    assert f"/alerts/{alert.alert_id}/acknowledge/" not in html
    assert "<html" not in html
    assert "is now acknowledged" in html
    assert "is now acknowledged" not in inbox(engineer).content.decode()  # told once, here


def test_a_move_the_lifecycle_does_not_allow_is_explained_and_changes_nothing(fleets, signed_in):
    alert = make_alert(fleets["ours"], status="resolved")
    engineer = signed_in(ACME, "engineer")
    response = act(engineer, alert, "acknowledge", note="Again?")
    assert response.status_code == 302
    html = engineer.get(response["Location"]).content.decode()
    assert "Nothing changed: An alert cannot go from resolved to acknowledged." in html
    assert unchanged(alert)


def test_a_refused_htmx_move_says_why_inside_the_alert(fleets, signed_in):
    alert = make_alert(fleets["ours"], status="dismissed")
    response = signed_in(ACME, "engineer").post(
        f"/alerts/{alert.alert_id}/resolve/", {"note": "x"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert '<p class="flash error" role="status">Nothing changed: An alert cannot go' in html
    assert unchanged(alert)


@pytest.mark.parametrize(
    "data, why",
    [
        ({}, "Write a note"),
        ({"note": "   "}, "Write a note"),
        ({"note": "x" * 2001}, "at most 2000 characters"),
        ({"note": "fixed\x00"}, "Null characters are not allowed"),
        ({"note": "fixed\x1b[2J"}, "control character"),
        ({"note": "fixed", "snooze_minutes": "0"}, "snooze minutes"),
        ({"note": "fixed", "snooze_minutes": "43201"}, "snooze minutes"),
        ({"note": "fixed", "snooze_minutes": "soon"}, "snooze minutes"),
    ],
)
def test_a_bad_note_or_snooze_is_refused_with_nothing_changed(fleets, signed_in, data, why):
    alert = make_alert(fleets["ours"])
    engineer = signed_in(ACME, "engineer")
    response = act(engineer, alert, "dismiss", **data)
    html = engineer.get(response["Location"]).content.decode()
    assert "Nothing changed:" in html and why in html
    assert unchanged(alert)


def test_a_note_may_span_lines(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    act(signed_in(ACME, "engineer"), alert, "acknowledge", note="Checked cable.\r\n\tFan next.")
    assert AlertTransition.objects.get().note == "Checked cable.\r\n\tFan next."


def test_an_unknown_action_changes_nothing(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    engineer = signed_in(ACME, "engineer")
    response = act(engineer, alert, "reopen", note="x")
    assert "Unknown action" in engineer.get(response["Location"]).content.decode()
    assert unchanged(alert)


def test_a_viewer_sees_no_actions_and_is_refused_if_they_post(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    viewer = signed_in(ACME, "viewer")
    html = inbox(viewer).content.decode()
    assert alert.title in html
    assert f"/alerts/{alert.alert_id}/" not in html and 'name="note"' not in html
    for action in ("acknowledge", "resolve", "dismiss"):
        assert act(viewer, alert, action, note="sneaky").status_code == 403
    assert unchanged(alert)


def test_another_operators_alert_is_not_found_and_unchanged(fleets, signed_in):
    theirs = make_alert(fleets["theirs"])
    browser = signed_in(ACME, "admin")
    assert act(browser, theirs, "acknowledge", note="mine now").status_code == 404
    assert act(browser, theirs, "reopen", note="x").status_code == 404
    assert browser.post("/alerts/alt_nope/resolve/", {"note": "x"}).status_code == 404
    assert unchanged(theirs)


def test_actions_need_the_csrf_token(fleets, console_user):
    alert = make_alert(fleets["ours"])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(console_user("erin", ACME, "engineer"))
    assert act(browser, alert, "acknowledge", note="x").status_code == 403
    assert unchanged(alert)


def test_actions_are_posts_only(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    response = signed_in(ACME, "engineer").get(f"/alerts/{alert.alert_id}/acknowledge/")
    assert response.status_code == 405
    assert unchanged(alert)


# --- Acknowledging the ticked alerts at once ----------------------------------------------------


def acknowledge_ticked(browser: Client, alert_ids: list[str], query: str = "", **data):
    url = "/alerts/acknowledge/" + (f"?{query}" if query else "")
    return browser.post(url, {"alert": alert_ids, **data}, **data.pop("headers", {}))


def test_each_open_alert_has_a_box_to_tick_for_engineers_only(fleets, signed_in):
    opened = make_alert(fleets["ours"])
    acknowledged = make_alert(fleets["ours"], status="acknowledged")
    html = inbox(signed_in(ACME, "engineer")).content.decode()
    assert html.count('form="bulk-acknowledge"') == 1
    assert f'name="alert" value="{opened.alert_id}" form="bulk-acknowledge"' in html
    assert f'value="{acknowledged.alert_id}"' not in html
    assert 'id="alert-select-all"' in html and 'action="/alerts/acknowledge/"' in html
    viewer = inbox(signed_in(ACME, "viewer")).content.decode()
    assert "bulk-acknowledge" not in viewer and 'type="checkbox"' not in viewer


def test_ticked_alerts_are_acknowledged_with_one_note_each_through_the_service(fleets, signed_in):
    ticked = [make_alert(fleets["ours"]), make_alert(fleets["other"]), make_alert(fleets["ours"])]
    left = make_alert(fleets["ours"])
    engineer = signed_in(ACME, "engineer", username="erin")
    response = acknowledge_ticked(
        engineer, [a.alert_id for a in ticked], "severity=medium", note="Crew out at 9"
    )
    assert response.status_code == 302
    assert response["Location"] == "/alerts/?severity=medium"
    for alert in ticked:
        alert.refresh_from_db()
        assert alert.status == "acknowledged"
        move = AlertTransition.objects.get(alert=alert)
        assert (move.to_status, move.note, move.by) == (
            "acknowledged",
            "Crew out at 9",
            "user:erin",
        )
    audited = AuditEntry.objects.filter(action="acknowledge_alert", actor="user:erin")
    assert sorted(audited.values_list("resource_id", flat=True)) == sorted(
        a.alert_id for a in ticked
    )
    left.refresh_from_db()
    assert left.status == "open"
    html = engineer.get(response["Location"]).content.decode()
    assert "3 alerts acknowledged." in html and "Not acknowledged" not in html


def test_an_alert_resolved_meanwhile_is_named_and_the_others_are_acknowledged(fleets, signed_in):
    first, second = make_alert(fleets["ours"]), make_alert(fleets["other"])
    gone = make_alert(fleets["ours"], title="Connector 2 at 91.0 °C")
    # Someone else resolves it while the page with its box ticked is still open.
    act(signed_in(ACME, "operator", username="olga"), gone, "resolve", note="Fan replaced")
    engineer = signed_in(ACME, "engineer")
    response = acknowledge_ticked(
        engineer, [first.alert_id, gone.alert_id, second.alert_id], note="On it"
    )
    html = engineer.get(response["Location"]).content.decode()
    assert (
        "2 alerts acknowledged. Not acknowledged: "
        f"“Connector 2 at 91.0 °C” on {fleets['ours'].sn} was already resolved."
    ) in html
    assert 'class="flash error"' in html
    for alert, status in ((first, "acknowledged"), (second, "acknowledged"), (gone, "resolved")):
        alert.refresh_from_db()
        assert alert.status == status
    assert AlertTransition.objects.filter(alert=gone).count() == 1  # only olga's


def test_another_operators_alert_slipped_into_the_form_is_untouched_and_said(fleets, signed_in):
    ours = make_alert(fleets["ours"])
    theirs = make_alert(fleets["theirs"], title="Rival connector hot")
    engineer = signed_in(ACME, "admin")
    response = acknowledge_ticked(engineer, [theirs.alert_id, ours.alert_id], note="mine now")
    html = engineer.get(response["Location"]).content.decode()
    assert f"1 alert acknowledged. Not acknowledged: no alert “{theirs.alert_id}” is yours" in html
    assert "Rival connector hot" not in html
    theirs.refresh_from_db()
    assert theirs.status == "open" and not AlertTransition.objects.filter(alert=theirs).exists()
    assert not AuditEntry.objects.filter(resource_id=theirs.alert_id).exists()
    ours.refresh_from_db()
    assert ours.status == "acknowledged"


def test_an_htmx_acknowledge_returns_the_list_with_the_outcome_above_it(fleets, signed_in):
    alerts = [make_alert(fleets["ours"]), make_alert(fleets["ours"])]
    response = signed_in(ACME, "engineer").post(
        "/alerts/acknowledge/?severity=medium",
        {"alert": [a.alert_id for a in alerts], "note": "Looking"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="alert-list"')
    assert '<p class="flash success" role="status">2 alerts acknowledged.</p>' in html
    assert html.count('<span class="badge alert-acknowledged">acknowledged</span>') == 2
    assert "<html" not in html


@pytest.mark.parametrize(
    "data, why",
    [
        ({"note": "On it"}, "Tick the alerts to acknowledge first."),
        ({"alert": ["A"], "note": ""}, "Write a note"),
        ({"alert": ["A"], "note": "x\x1b[2J"}, "control character"),
        ({"alert": ["A"], "note": "x" * 2001}, "at most 2000 characters"),
        ({"alert": [f"alt_{n}" for n in range(101)], "note": "x"}, "at most 100 alerts"),
        ({"alert": ["alt_" + "x" * 60], "note": "x"}, "not in this inbox"),
        ({"alert": ["alt_\x00"], "note": "x"}, "not in this inbox"),
    ],
)
def test_a_refused_acknowledge_says_why_and_changes_nothing(fleets, signed_in, data, why):
    alert = make_alert(fleets["ours"])
    data = {**data, "alert": [alert.alert_id if v == "A" else v for v in data.get("alert", [])]}
    engineer = signed_in(ACME, "engineer")
    response = engineer.post("/alerts/acknowledge/", data)
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        html = engineer.get(response["Location"]).content.decode()
        assert "Nothing was acknowledged:" in html and why in html
    assert unchanged(alert)


def test_a_viewer_may_not_acknowledge_ticked_alerts(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    response = acknowledge_ticked(signed_in(ACME, "viewer"), [alert.alert_id], note="sneaky")
    assert response.status_code == 403
    assert unchanged(alert)


def test_acknowledging_ticked_alerts_needs_a_post_and_the_csrf_token(fleets, console_user):
    alert = make_alert(fleets["ours"])
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(console_user("erin", ACME, "engineer"))
    assert acknowledge_ticked(browser, [alert.alert_id], note="x").status_code == 403
    assert browser.get("/alerts/acknowledge/").status_code == 405
    assert unchanged(alert)


# --- Starting the suggested runbook -------------------------------------------------------------


def test_an_engineer_starts_the_suggested_runbook_on_the_alerts_charger(
    repeat_fault_alert, fleets, signed_in
):
    engineer = signed_in(ACME, "engineer", username="erin")
    html = inbox(engineer).content.decode()
    assert f'action="/alerts/{repeat_fault_alert.alert_id}/runbook/"' in html
    assert "Start runbook" in html
    response = engineer.post(f"/alerts/{repeat_fault_alert.alert_id}/runbook/")
    run = RunbookExecution.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{run.run_id}/"
    assert (run.device_id, run.runbook_id) == (
        fleets["ours"].device_id,
        repeat_fault_alert.suggested_runbook,
    )
    assert (run.status, run.started_by) == ("open", "user:erin")
    assert AuditEntry.objects.filter(action="start_runbook", actor="user:erin").exists()


def test_a_run_starts_on_the_connector_the_alert_is_about(fleets, signed_in):
    load_runbooks()
    Connector.objects.create(device=fleets["ours"], connector_id=2)
    alert = make_alert(
        fleets["ours"],
        evidence={"connector_id": 2, "temperature": 81.0},
        suggested_runbook="connector-stuck-preparing",
    )
    signed_in(ACME, "engineer").post(f"/alerts/{alert.alert_id}/runbook/")
    assert RunbookExecution.objects.get().connector_id == 2


def test_a_run_under_way_is_linked_to_and_continued_not_started_again(
    repeat_fault_alert, fleets, signed_in
):
    device = fleets["ours"]
    under_way = engine.start_run(
        Actor.platform(device.site.operator_id), device, repeat_fault_alert.suggested_runbook
    )
    engineer = signed_in(ACME, "engineer")
    html = inbox(engineer).content.decode()
    row = html.split(f'<tr id="alert-{repeat_fault_alert.alert_id}"')[1].split("</tr>")[0]
    assert f'<a href="/runs/{under_way.run_id}/">Continue the run</a>' in row
    started = under_way.created_at.strftime("%Y-%m-%d %H:%M")
    assert "started <time datetime=" in row and f"{started} UTC</time>" in row
    assert "/runbook/" not in row  # no second start offered
    response = engineer.post(f"/alerts/{repeat_fault_alert.alert_id}/runbook/")
    assert response["Location"] == f"/runs/{under_way.run_id}/"
    assert RunbookExecution.objects.count() == 1
    assert (
        "already under way on this charger" in engineer.get(response["Location"]).content.decode()
    )


def test_a_finished_run_does_not_stop_a_new_one(repeat_fault_alert, fleets, signed_in):
    device = fleets["ours"]
    actor = Actor.platform(device.site.operator_id)
    finished = engine.start_run(actor, device, repeat_fault_alert.suggested_runbook)
    engine.escalate(actor, finished, note="L2 has it")
    response = signed_in(ACME, "engineer").post(f"/alerts/{repeat_fault_alert.alert_id}/runbook/")
    started = RunbookExecution.objects.exclude(pk=finished.pk).get()
    assert response["Location"] == f"/runs/{started.run_id}/"


def test_an_alert_without_a_runbook_or_charger_starts_nothing(fleets, signed_in):
    load_runbooks()
    no_runbook = make_alert(fleets["ours"], suggested_runbook="")
    no_charger = make_alert(
        fleets["ours"], detector="firmware_cluster", evidence={"firmware_version": "3.0.1"},
        suggested_runbook="charger-faulting-on-power-up",
    )  # fmt: skip
    Alert.objects.filter(pk=no_charger.pk).update(device=None, site=None)
    engineer = signed_in(ACME, "engineer")
    html = inbox(engineer).content.decode()
    assert "Chargers on firmware 3.0.1" in html
    for alert in (no_runbook, no_charger):
        assert f"/alerts/{alert.alert_id}/runbook/" not in html
        response = engineer.post(f"/alerts/{alert.alert_id}/runbook/")
        assert response.status_code == 302 and response["Location"] == "/alerts/"
        assert "suggests no runbook" in engineer.get("/alerts/").content.decode()
    assert not RunbookExecution.objects.exists()


def test_viewers_cannot_start_runs_and_another_operators_alert_is_not_found(
    repeat_fault_alert, fleets, signed_in
):
    viewer = signed_in(ACME, "viewer")
    assert "/runbook/" not in inbox(viewer).content.decode().split('id="alert-list"')[1]
    assert viewer.post(f"/alerts/{repeat_fault_alert.alert_id}/runbook/").status_code == 403
    theirs = make_alert(fleets["theirs"], suggested_runbook="charger-faulting-on-power-up")
    admin = signed_in(ACME, "admin")
    assert admin.post(f"/alerts/{theirs.alert_id}/runbook/").status_code == 404
    assert admin.get(f"/alerts/{repeat_fault_alert.alert_id}/runbook/").status_code == 405
    assert not RunbookExecution.objects.exists()


# --- The evidence row and live rows -------------------------------------------------------------


def test_each_row_is_followed_by_its_evidence_row_folded_until_opened(fleets, signed_in):
    alert = make_alert(fleets["ours"])
    html = inbox(signed_in(ACME, "engineer")).content.decode()
    rows = html.split('<tbody id="alert-items">')[1].split("</tbody>")[0]
    main, more = rows.split("</tr>")[:2]
    assert '<details class="alert-expand">' in main  # folded
    assert more.strip().startswith(f'<tr id="alert-{alert.alert_id}-more" class="alert-more">')
    assert '<td colspan="7">' in more  # the row's width
    assert "<dt>Peak temperature (°C)</dt>" in more and "History" in more
    assert f"/alerts/{alert.alert_id}/dismiss/" in more and 'name="snooze_minutes"' in more


def test_a_pushed_alert_is_a_pair_of_rows_for_the_table_body(fleets, console_user):
    alert = make_alert(fleets["ours"], severity="high")
    user = console_user("watcher", ACME, "engineer")
    access = ConsoleAccess(
        user, fleets["ours"].site.operator, Role.ENGINEER, False, csrf_token="token"
    )
    html = live_pages._alert_items(access, QueryDict(""), {alert.alert_id})
    assert html.startswith(
        '<tbody data-live-insert="alert-items" data-live-fallback="alert-list">'
    ) and html.endswith("</tbody>")
    assert f'<tr id="alert-{alert.alert_id}" class="alert-item alert-row">' in html
    assert f'<tr id="alert-{alert.alert_id}-more" class="alert-more">' in html
    assert "hx-swap-oob" not in html
    filtered = QueryDict("severity=low")
    assert live_pages._alert_items(access, filtered, {alert.alert_id}) == ""


# --- Cost ---------------------------------------------------------------------------------------


def test_the_page_and_fragments_cost_a_bounded_number_of_queries(
    fleets, signed_in, django_assert_max_num_queries
):
    load_runbooks()
    load_faults()
    engineer = signed_in(ACME, "engineer")
    devices = [fleets["ours"], fleets["other"]]
    alerts = [
        make_alert(
            devices[n % 2],
            minutes_ago=n,
            suggested_runbook="charger-faulting-on-power-up",
            fault_code="F-0411",
        )
        for n in range(40)
    ]
    for alert in alerts[:20]:
        act(engineer, alert, "acknowledge", note="on it")
    # Session, user, membership; count, page, transitions, fault titles, runbook titles,
    # runs under way; site choices (full page only); the session save (3 with its savepoint).
    with django_assert_max_num_queries(13):
        assert inbox(engineer).status_code == 200
    with django_assert_max_num_queries(12):
        assert inbox(engineer, {"status": "all"}, HTTP_HX_REQUEST="true").status_code == 200
    # Access (3); the alert; the move (lock, history, update, audit: 6 with savepoints);
    # the item fragment (5, with the runs under way); the session save (3).
    with django_assert_max_num_queries(18):
        response = engineer.post(
            f"/alerts/{alerts[0].alert_id}/resolve/", {"note": "done"}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
