"""The alerts inbox: an operator's alerts with their evidence and history, active ones by
default; engineers and above move them (with a note) through the API's service, audited
with the user as actor; viewers only look; another operator's alerts do not exist here."""

import re
from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from console.web.access import ConsoleAccess
from console.web.forms.alerts import AlertFilterForm
from console.web.roles import Role
from console.web.views.alerts import alert_list_context
from diagnostics.models import Alert, AlertTransition
from diagnostics.services import detectors
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.models import AuditEntry
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


def test_alerts_are_listed_newest_first(fleets, signed_in):
    older = make_alert(fleets["ours"], minutes_ago=60)
    newest = make_alert(fleets["other"], minutes_ago=1)
    middle = make_alert(fleets["ours"], minutes_ago=10)
    response = inbox(signed_in(ACME))
    assert response.status_code == 200
    assert shown(response) == [newest.alert_id, middle.alert_id, older.alert_id]


def test_each_alert_shows_its_subject_evidence_and_runbook_readably(
    repeat_fault_alert, fleets, signed_in
):
    device = fleets["ours"]
    html = inbox(signed_in(ACME)).content.decode()
    assert repeat_fault_alert.title in html  # "F-0411 reported 3 times"
    assert '<span class="severity high">high</span>' in html
    assert f'href="/devices/{device.device_id}/"' in html and device.sn in html
    assert "Acme Depot" in html
    assert "3 fault events" in html
    assert "charger-faulting-on-power-up" in html
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
        ({"status": "open"}, ["open-high", "open-yard"]),
        ({"status": "active", "severity": "high"}, ["open-high"]),
        ({"severity": "low"}, []),
        ({"site": "YARD"}, ["open-yard"]),
        ({"device": "OURS", "status": "all"}, ["open-high", "acknowledged", "resolved"]),
    ],
)
def test_filters_narrow_the_list(fleets, signed_in, query, expected):
    ours, other = fleets["ours"], fleets["other"]
    made = {
        "open-high": make_alert(ours, minutes_ago=1, severity="high"),
        "open-yard": make_alert(other, minutes_ago=2),
        "acknowledged": make_alert(ours, minutes_ago=3, status="acknowledged"),
        "resolved": make_alert(ours, minutes_ago=4, status="resolved"),
    }
    query = {
        name: {"YARD": other.site_id, "OURS": ours.device_id}.get(value, value)
        for name, value in query.items()
    }
    response = inbox(signed_in(ACME), query)
    assert shown(response) == [made[name].alert_id for name in expected]


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
        {"site": "s" * 500},
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
    for query in ({}, {"status": "all"}, {"device": fleets["theirs"].device_id}):
        response = inbox(browser, query)
        assert response.context["page"].total == 0
        assert theirs.alert_id not in response.content.decode()
        assert fleets["theirs"].sn not in response.content.decode()


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
    assert html.lstrip().startswith(f'<li class="card alert-item" id="alert-{alert.alert_id}"')
    assert '<span class="badge alert-acknowledged">acknowledged</span>' in html
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
    # Session, user, membership; count, page, transitions, fault titles, runbook titles;
    # site choices (full page only); the session save (3 with its savepoint).
    with django_assert_max_num_queries(12):
        assert inbox(engineer).status_code == 200
    with django_assert_max_num_queries(11):
        assert inbox(engineer, {"status": "all"}, HTTP_HX_REQUEST="true").status_code == 200
    # Access (3); the alert; the move (lock, history, update, audit: 6 with savepoints);
    # the item fragment (4); the session save (3).
    with django_assert_max_num_queries(17):
        response = engineer.post(
            f"/alerts/{alerts[0].alert_id}/resolve/", {"note": "done"}, HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200
