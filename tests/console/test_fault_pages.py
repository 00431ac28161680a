"""The fault dictionary in the console: every code, filtered and searched, with how often
the operator's chargers raised it this week; an entry with its live fleet context (which
chargers, on which firmware, the known issue's affected versions marked, open alerts,
runbooks); the codes the chargers report that the dictionary lacks. Only the operator's
own chargers are ever counted or listed; only platform staff get the links to edit the
shared dictionary in the admin."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from console.web.version_chart import version_chart
from diagnostics.models import Alert, FaultCode, Runbook
from diagnostics.services.faults import firmware_distribution, version_order
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.models import DeviceEvent

pytestmark = pytest.mark.django_db

ACME = "Acme Charging"
RIVAL = "Rival Energy"
# The dictionary's F-0421 issue: firmware 3.0.0 to 3.0.2 (bounds included), fixed in 3.0.3.
AFFECTED, OUTSIDE = ("3.0.1", "3.0.2"), ("3.0.10", "3.1.0")


@pytest.fixture
def dictionary() -> None:
    load_faults()
    load_runbooks()


@pytest.fixture
def fleets(dictionary, make_client, site_for, assigned_device) -> dict:
    """Acme's chargers on firmware inside and outside F-0421's affected range, and one
    charger of a rival operator."""
    acme, _ = make_client(ACME)
    rival, _ = make_client(RIVAL)
    depot = site_for(acme, "Acme Depot")

    def charger(client, site, firmware: str):
        return assigned_device(client, site, firmware_version=firmware)

    return {
        "depot": depot,
        "old": charger(acme, depot, "3.0.1"),
        "edge": charger(acme, depot, "3.0.2"),
        "later": charger(acme, depot, "3.0.10"),
        "new": charger(acme, depot, "3.1.0"),
        "theirs": charger(rival, site_for(rival, "Rival Yard"), "3.0.1"),
    }


def fault(device, code: str, days_ago: float = 0, **fields) -> DeviceEvent:
    return DeviceEvent.objects.create(
        device=device,
        connector_id=1,
        event_type="fault",
        fault_code=code,
        timestamp=timezone.now() - timedelta(days=days_ago, minutes=1),
        data=fields.pop("data", {"fault_code": code}),
        **fields,
    )


@pytest.fixture
def cluster(fleets) -> dict:
    """F-0421 on Acme's chargers: the old firmware three times this week, the edge of
    the range once 10 days ago, 3.0.10 and 3.1.0 once this week each; the new charger
    also 40 days ago (outside the 30 days). The rival's charger raises it five times."""
    for days in (0, 1, 2):
        fault(fleets["old"], "F-0421", days)
    fault(fleets["edge"], "F-0421", 10)
    fault(fleets["later"], "F-0421", 3)
    fault(fleets["new"], "F-0421", 5)
    fault(fleets["new"], "F-0421", 40)
    for days in range(5):
        fault(fleets["theirs"], "F-0421", days)
    return fleets


def staff_browser() -> Client:
    user = get_user_model().objects.create_superuser("platform-lead", password="s3cret-pass-1")
    browser = Client()
    browser.force_login(user)
    return browser


def codes_listed(response) -> list[str]:
    return [fault.code for fault in response.context["page"].items]


def squeezed(response) -> str:
    return re.sub(r">\s+<", "><", response.content.decode())


# --- The dictionary -----------------------------------------------------------------------


def test_every_code_is_listed_with_its_severity_in_words(dictionary, make_client, signed_in):
    make_client(ACME)
    response = signed_in(ACME).get("/faults/")
    assert response.status_code == 200
    assert codes_listed(response) == list(FaultCode.objects.values_list("code", flat=True))
    assert len(codes_listed(response)) == 12
    html = response.content.decode()
    assert '<span class="severity fault-error">error</span>' in html
    assert '<span class="severity fault-warning">warning</span>' in html
    assert 'href="/faults/F-0421/"' in html
    assert "charging process" in html  # the category as words


def test_the_filters_offer_what_the_dictionary_holds(dictionary, make_client, signed_in):
    make_client(ACME)
    form = signed_in(ACME).get("/faults/").context["form"]
    categories = [value for value, _ in form.fields["category"].choices if value]
    severities = [value for value, _ in form.fields["severity"].choices if value]
    assert categories == sorted(set(FaultCode.objects.values_list("category", flat=True)))
    assert severities == ["error", "warning"]


def test_filtering_by_category_and_severity(dictionary, make_client, signed_in):
    make_client(ACME)
    browser = signed_in(ACME)
    thermal = codes_listed(browser.get("/faults/", {"category": "thermal"}))
    assert thermal == ["F-0203", "F-0204", "F-0601"]
    hot_errors = codes_listed(browser.get("/faults/", {"category": "thermal", "severity": "error"}))
    assert hot_errors == ["F-0204"]


@pytest.mark.parametrize(
    "q, codes",
    [
        ("F-0421", ["F-0421"]),
        ("f-04", ["F-0411", "F-0421"]),  # part of a code, any case
        ("contactor engage", ["F-0421"]),  # every word, in title or description
        ("weld", ["F-0101"]),
        ("thermal-warning", ["F-0203"]),  # only in F-0203's symptoms
        ("100%", []),  # LIKE wildcards are searched as text
        ("nothing-like-this", []),
    ],
)
def test_searching_by_code_and_words(dictionary, make_client, signed_in, q, codes):
    make_client(ACME)
    response = signed_in(ACME).get("/faults/", {"q": q})
    assert response.status_code == 200
    assert codes_listed(response) == codes


def test_no_match_says_what_to_try_next(dictionary, make_client, signed_in):
    make_client(ACME)
    html = signed_in(ACME).get("/faults/", {"q": "nothing-like-this"}).content.decode()
    assert "No code matches" in html and 'href="/faults/undocumented/"' in html


def test_an_htmx_request_gets_the_table_alone(dictionary, make_client, signed_in):
    make_client(ACME)
    browser = signed_in(ACME)
    response = browser.get("/faults/", {"severity": "warning"}, HTTP_HX_REQUEST="true")
    html = response.content.decode().strip()
    assert html.startswith('<div id="fault-table"') and "<html" not in html
    assert "F-0203" in html and "F-0204" not in html
    restore = browser.get(
        "/faults/",
        {"severity": "warning"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in restore.content.decode()


def test_the_page_swaps_its_table_by_htmx_with_a_loading_indicator(
    dictionary, make_client, signed_in
):
    make_client(ACME)
    html = signed_in(ACME).get("/faults/").content.decode()
    assert 'hx-get="/faults/"' in html and 'hx-push-url="true"' in html
    assert 'hx-target="#fault-table"' in html and 'hx-indicator="#fault-table-loading"' in html


def test_the_count_is_of_the_operators_own_reports_in_the_last_7_days(cluster, signed_in):
    rows = {f.code: f.recent for f in signed_in(ACME).get("/faults/").context["page"].items}
    # old 3 times, later, new (the edge's at 10 days and new's at 40 days are older).
    assert rows["F-0421"] == 5
    assert rows["F-0101"] == 0
    theirs = {f.code: f.recent for f in signed_in(RIVAL).get("/faults/").context["page"].items}
    assert theirs["F-0421"] == 5


def test_the_list_costs_a_fixed_number_of_queries(
    cluster, signed_in, django_assert_max_num_queries
):
    browser = signed_in(ACME)
    for code in ("F-0101", "F-0204", "F-0411"):
        fault(cluster["old"], code)
    # Session, user, membership and the session's save (idle timeout); filter values,
    # count, rows, the grouped counts.
    with django_assert_max_num_queries(10):
        assert browser.get("/faults/").status_code == 200
    with django_assert_max_num_queries(10):
        assert (
            browser.get("/faults/", {"q": "contactor"}, HTTP_HX_REQUEST="true").status_code == 200
        )


@pytest.mark.parametrize(
    "query, problem",
    [
        ({"q": "contactor\x00"}, "Null characters are not allowed"),
        ({"q": "x" * 5000}, "at most 100 characters"),
        ({"q": "a b c d e f g h i"}, "at most 8 words"),
        ({"category": "<script>alert(1)</script>"}, "Select a valid choice"),
        ({"severity": "critical"}, "Select a valid choice"),
        ({"page": "9" * 40}, "less than or equal to"),
        ({"page": "-1"}, "greater than or equal to"),
    ],
)
def test_hostile_filters_are_refused_in_words(dictionary, make_client, signed_in, query, problem):
    make_client(ACME)
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = signed_in(ACME, username=f"v{len(headers)}").get("/faults/", query, **headers)
        assert response.status_code == 200
        html = response.content.decode()
        assert "These filters cannot be used" in html and problem in html
        assert "<script>alert(1)</script>" not in html
        assert "<table" not in html


# --- An entry -----------------------------------------------------------------------------


def test_an_entry_explains_the_code(dictionary, make_client, signed_in):
    make_client(ACME)
    response = signed_in(ACME).get("/faults/F-0421/")
    assert response.status_code == 200
    html = response.content.decode()
    fault = FaultCode.objects.get(code="F-0421")
    for text in (
        fault.title,
        fault.description,
        *fault.symptoms,
        *fault.likely_causes,
        *(step["text"] for step in fault.diagnostic_steps),
        *fault.related_telemetry,
        *fault.related_commands,
    ):
        assert str(text).replace("'", "&#x27;").replace('"', "&quot;") in html, text
    issues = squeezed(response).split('id="firmware-issues-heading"')[1]
    assert "3.0.0 to 3.0.2 (both included)" in issues
    assert "<dt>Fixed in</dt><dd>3.0.3</dd>" in issues
    assert "every model" in issues
    assert "on site" in html and "remote" in html


def test_the_entry_counts_and_lists_the_chargers_that_raised_it(cluster, signed_in):
    response = signed_in(ACME).get("/faults/F-0421/")
    assert response.context["totals"] == {
        "recent_devices": 3,  # old, later, new
        "recent_events": 5,
        "devices": 4,  # and the edge, 10 days ago
        "events": 6,
    }
    listed = [item["row"].device_id for item in response.context["devices"]]
    assert listed[0] == cluster["old"].device_id  # most reports first
    assert sorted(listed) == sorted(cluster[n].device_id for n in ("old", "edge", "later", "new"))
    html = response.content.decode()
    old = cluster["old"]
    assert f'<a href="/devices/{old.device_id}/">{old.sn}</a>' in html
    assert f'href="/sites/{cluster["depot"].site_id}/">Acme Depot</a>' in html
    row = squeezed(response).split(old.sn)[1].split("</tr>")[0]
    assert '3.0.1 <span class="note bad">affected</span>' in row
    assert "<td>3</td><td>3</td>" in row  # 3 reports in 7 days, 3 in 30


def test_the_firmware_distribution_marks_the_affected_versions_in_words(cluster, signed_in):
    response = signed_in(ACME).get("/faults/F-0421/")
    bars = response.context["chart"].bars
    # In version order (3.0.10 after 3.0.2), one bar per version, one charger each.
    assert [bar.version for bar in bars] == ["3.0.1", "3.0.2", "3.0.10", "3.1.0"]
    assert [bar.devices for bar in bars] == [1, 1, 1, 1]
    assert [bar.state for bar in bars] == ["affected", "affected", "clear", "clear"]
    svg = squeezed(response).split('<svg class="chart version-chart"')[1].split("</svg>")[0]
    assert svg.count('fill="url(#affected-hatch)"') == 2  # hatched…
    assert svg.count("1 charger · affected</text>") == 2  # …and said in words
    assert svg.count("1 charger · not affected</text>") == 2
    for version in AFFECTED + OUTSIDE:
        assert f">{version}</text>" in svg
    assert "3.0.2</text>" in svg.split("3.0.10</text>")[0]  # drawn in version order


def test_several_chargers_on_a_version_make_one_longer_bar(
    cluster, assigned_device, make_client, signed_in
):
    acme = make_client(ACME)[0]
    for _ in range(2):
        fault(assigned_device(acme, cluster["depot"], firmware_version="3.0.1"), "F-0421", 1)
    bars = {
        bar.version: bar for bar in signed_in(ACME).get("/faults/F-0421/").context["chart"].bars
    }
    assert bars["3.0.1"].devices == 3 and bars["3.0.1"].text == "3 chargers · affected"
    assert bars["3.0.1"].width > bars["3.1.0"].width


def test_a_version_that_cannot_be_compared_is_said_so(
    fleets, assigned_device, make_client, signed_in
):
    fault(
        assigned_device(make_client(ACME)[0], fleets["depot"], firmware_version="260420.0107"),
        "F-0421",
    )
    (bar,) = signed_in(ACME).get("/faults/F-0421/").context["chart"].bars
    assert bar.state == "unknown" and "cannot tell" in bar.text


def test_another_operators_chargers_are_never_counted_or_listed(cluster, signed_in):
    theirs = cluster["theirs"]
    response = signed_in(ACME).get("/faults/F-0421/")
    html = response.content.decode()
    assert theirs.sn not in html and theirs.device_id not in html
    assert "Rival" not in html
    rival = signed_in(RIVAL).get("/faults/F-0421/")
    assert rival.context["totals"]["devices"] == 1
    assert cluster["old"].sn not in rival.content.decode()


def test_an_entry_without_reports_says_so(dictionary, make_client, signed_in):
    make_client(ACME)
    html = signed_in(ACME).get("/faults/F-0101/").content.decode()
    assert "None of your chargers raised F-0101 in the last 30 days" in html
    assert '<svg class="chart version-chart"' not in html


def test_f0101_says_no_firmware_issue_from_260420_0107_onwards_and_nothing_for_older(
    dictionary, make_client, signed_in
):
    make_client(ACME)
    html = squeezed(signed_in(ACME).get("/faults/F-0101/"))
    known = html.split('id="firmware-issues-heading">Known firmware issues</h2>')[1]
    known = known.split('<h3 class="small-heading">Related telemetry</h3>')[0]
    assert "from version 260420.0107 onwards" in known
    assert "Nothing is documented about older builds" in known
    assert "None known for this code" not in known


def test_an_entry_the_documentation_calls_plainly_free_of_issues_says_none_known(
    dictionary, make_client, signed_in
):
    make_client(ACME)
    html = signed_in(ACME).get("/faults/F-0203/").content.decode()
    assert '<p class="muted">None known for this code.</p>' in html
    assert "firmware-statement" not in html


def make_alert(device, code: str, status: str = Alert.Status.OPEN, n: int = 0) -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        alert_id=f"alt_fault{n:04d}",
        operator_id=device.site.operator_id,
        device=device,
        site=device.site,
        detector="repeat_fault",
        subject=f"{device.device_id}:{code}:{n}",
        fault_code=code,
        severity=Alert.Severity.HIGH,
        status=status,
        title=f"{code} reported {n + 3} times",
        first_seen=now - timedelta(minutes=30),
        last_seen=now,
        window_start=now - timedelta(hours=1),
    )


def test_open_and_acknowledged_alerts_for_the_code_are_linked(cluster, signed_in):
    old = cluster["old"]
    make_alert(old, "F-0421", n=1)
    make_alert(cluster["new"], "F-0421", Alert.Status.ACKNOWLEDGED, n=2)
    make_alert(old, "F-0421", Alert.Status.RESOLVED, n=3)
    make_alert(old, "F-0204", n=4)
    make_alert(cluster["theirs"], "F-0421", n=5)
    response = signed_in(ACME).get("/faults/F-0421/")
    assert sorted(alert.alert_id for alert in response.context["alerts"]) == [
        "alt_fault0001",
        "alt_fault0002",
    ]
    html = response.content.decode()
    assert f'href="/alerts/?device={old.device_id}">in the inbox</a>' in html
    assert '<span class="severity high">high</span>' in html
    assert "acknowledged" in html and "F-0421 reported 6 times" not in html  # the rival's


def test_the_runbooks_for_the_code_are_linked(dictionary, make_client, signed_in):
    make_client(ACME)
    html = signed_in(ACME).get("/faults/F-0421/").content.decode()
    linked = Runbook.objects.filter(linked_fault_codes__contains=["F-0421"])
    assert linked.exists()
    for runbook in linked:
        assert f'<a href="/runbooks/{runbook.slug}/">{runbook.title}</a>' in html


def test_an_unknown_code_is_not_found(dictionary, make_client, signed_in):
    make_client(ACME)
    response = signed_in(ACME).get("/faults/F-9999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Fault code not found" in html and "F-9999" in html
    assert "/faults/undocumented/" not in html.split("<main")[1]


def test_a_code_only_the_fleet_knows_is_not_found_but_points_to_the_undocumented_codes(
    fleets, signed_in
):
    fault(fleets["old"], "1001")
    fault(fleets["theirs"], "4242")
    browser = signed_in(ACME)
    response = browser.get("/faults/1001/")
    assert response.status_code == 404
    assert 'href="/faults/undocumented/#code-1001"' in response.content.decode()
    # Another operator's code is nothing to Acme.
    rival = browser.get("/faults/4242/")
    assert rival.status_code == 404
    assert "/faults/undocumented/" not in rival.content.decode().split("<main")[1]


@pytest.mark.parametrize(
    "path", ["/faults/%00/", "/faults/" + "F" * 300 + "/", "/faults/a/b/", "/faults/%E2%80%AE/"]
)
def test_odd_codes_in_the_path_are_not_found_never_an_error(
    dictionary, make_client, signed_in, path
):
    make_client(ACME)
    assert signed_in(ACME).get(path).status_code == 404


def test_only_platform_staff_get_the_admin_edit_link(dictionary, make_client, signed_in):
    make_client(ACME)
    edit = 'href="/admin/diagnostics/faultcode/F-0421/change/"'
    assert edit in staff_browser().get("/faults/F-0421/").content.decode()
    html = signed_in(ACME, "admin").get("/faults/F-0421/").content.decode()
    assert edit not in html and "Edit in admin" not in html


def test_the_entry_costs_a_fixed_number_of_queries(
    cluster, signed_in, django_assert_max_num_queries
):
    for n in range(4):
        make_alert(cluster["old"], "F-0421", n=n)
    browser = signed_in(ACME)
    # Session, user, membership and the session's save (idle timeout); the entry, its
    # chargers, its alerts and its runbooks.
    with django_assert_max_num_queries(10):
        assert browser.get("/faults/F-0421/").status_code == 200


@pytest.mark.parametrize("role", ["viewer", "engineer", "operator", "admin"])
def test_every_role_reads_the_fault_pages(cluster, signed_in, role):
    browser = signed_in(ACME, role)
    for path in ("/faults/", "/faults/F-0421/", "/faults/undocumented/"):
        assert browser.get(path).status_code == 200, path


def test_the_fault_pages_need_a_sign_in(client):
    for path in ("/faults/", "/faults/F-0421/", "/faults/undocumented/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- Undocumented codes -------------------------------------------------------------------


def test_undocumented_codes_of_the_own_fleet_are_listed(fleets, signed_in):
    old, new = fleets["old"], fleets["new"]
    fault(old, "1001", 3)
    fault(old, "1001", 1)
    fault(new, "1001", 0)
    fault(old, "F-0421")  # documented
    fault(fleets["theirs"], "4242")  # the rival's
    fault(fleets["theirs"], "1001")
    response = signed_in(ACME).get("/faults/undocumented/")
    assert response.status_code == 200
    (row,) = response.context["rows"]
    assert (row["fault_code"], row["count"]) == ("1001", 3)
    assert row["devices"] == [new.device_id, old.device_id]  # the latest to report it first
    assert row["first_seen"] < row["last_seen"] and not row["more_devices"]
    html = response.content.decode()
    assert f'<a href="/devices/{new.device_id}/">{new.sn}</a>' in html
    assert f'<a href="/devices/{old.device_id}/">{old.sn}</a>' in html
    assert html.index(new.sn) < html.index(old.sn)  # the latest to report it first
    assert "4242" not in html and fleets["theirs"].sn not in html
    assert "Start an entry" not in html


def test_each_undocumented_code_shows_its_latest_message_and_links_to_what_tellus_asks_for(
    fleets, signed_in
):
    old = fleets["old"]
    fault(old, "1001", 2, data={"fault_code": 1001, "fault_message": "Older words"})
    fault(old, "1001", 1, data={"fault_code": 1001, "fault_message": "Relay <b>reset</b>"})
    fault(fleets["theirs"], "1001", 0, data={"fault_code": 1001, "fault_message": "RIVAL"})
    fault(old, "2002")  # no message sent
    response = signed_in(ACME).get("/faults/undocumented/")
    messages = {row["fault_code"]: row["latest_message"] for row in response.context["rows"]}
    assert messages == {"1001": "Relay <b>reset</b>", "2002": ""}
    html = response.content.decode()
    assert "<bdi>Relay &lt;b&gt;reset&lt;/b&gt;</bdi>" in html and "RIVAL" not in html
    assert '<a href="/faults/undocumented/1001/"><code>1001</code></a>' in html
    assert '<a href="/faults/undocumented/1001/">what to send Tellus</a>' in html
    assert "none sent" in html


def test_with_nothing_undocumented_the_page_says_all_is_documented(fleets, signed_in):
    fault(fleets["old"], "F-0421")
    fault(fleets["theirs"], "4242")
    html = signed_in(ACME).get("/faults/undocumented/").content.decode()
    assert "Every code your chargers reported is documented" in html


def test_staff_start_an_entry_prefilled_with_the_code_and_it_survives_a_reload(fleets):
    fault(fleets["old"], "F-9001")
    browser = staff_browser()
    html = browser.get("/faults/undocumented/").content.decode()
    assert 'href="/admin/diagnostics/faultcode/add/?code=F-9001">Start an entry</a>' in html
    form = browser.get("/admin/diagnostics/faultcode/add/?code=F-9001")
    assert form.status_code == 200
    assert form.context["adminform"].form["code"].value() == "F-9001"
    created = browser.post(
        "/admin/diagnostics/faultcode/add/",
        {
            "code": "F-9001",
            "title": "Relay board watchdog reset",
            "severity": "warning",
            "category": "hardware",
            "source": "charger",
            "description": "The relay board restarted itself.",
            "symptoms": "A short pause in charging",
        },
    )
    assert created.status_code == 302, created.context["adminform"].form.errors
    report = load_faults()
    assert "F-9001" not in report.created + report.updated + report.kept_edits
    entry = FaultCode.objects.get(code="F-9001")
    assert entry.title == "Relay board watchdog reset" and entry.symptoms == [
        "A short pause in charging"
    ]
    assert browser.get("/faults/F-9001/").status_code == 200
    assert (
        "Every code your chargers reported is documented"
        in browser.get("/faults/undocumented/").content.decode()
    )


def test_the_undocumented_page_lists_a_bounded_number_of_chargers(
    fleets, assigned_device, make_client, signed_in, django_assert_max_num_queries
):
    acme = make_client(ACME)[0]
    for n in range(12):
        fault(assigned_device(acme, fleets["depot"]), "1001", n / 24)
    browser = signed_in(ACME)
    # Session, user, membership and the session's save (idle timeout); the codes
    # reported, the known ones, the counts, the latest chargers, their serial numbers,
    # the latest report of each code (its message).
    with django_assert_max_num_queries(12):
        response = browser.get("/faults/undocumented/")
    (row,) = response.context["rows"]
    assert len(row["chargers"]) == 10 and row["more_devices"]
    assert row["count"] == 12 and "and more" in response.content.decode()


# --- Links from the other pages -------------------------------------------------------------


def test_the_device_timeline_links_each_fault_code(fleets, signed_in):
    old = fleets["old"]
    fault(old, "F-0421")
    fault(old, "1001")
    html = signed_in(ACME).get(f"/devices/{old.device_id}/").content.decode()
    assert '<a href="/faults/F-0421/"><code>F-0421</code> Contactor failed to engage' in html
    assert '<a href="/faults/undocumented/#code-1001">(not in the dictionary)</a>' in html


def test_the_alerts_inbox_links_the_alerts_fault_code(fleets, signed_in):
    make_alert(fleets["old"], "F-0421", n=7)
    html = signed_in(ACME).get("/alerts/").content.decode()
    assert '<a href="/faults/F-0421/"><code>F-0421</code> Contactor failed to engage' in html


def test_faults_is_in_the_main_navigation_after_alerts(dictionary, make_client, signed_in):
    make_client(ACME)
    html = signed_in(ACME).get("/faults/").content.decode()
    nav = html.split('<nav aria-label="Main" class="main-nav">')[1]
    assert nav.index('href="/alerts/"') < nav.index('href="/faults/"')
    assert 'href="/faults/" aria-current="page">Faults</a>' in nav


# --- The firmware chart's rules ------------------------------------------------------------


def test_an_issue_of_some_models_marks_a_version_partly_affected():
    fault = FaultCode(
        code="F-TEST",
        known_firmware_issues=[
            {"models": ["TP-AC22"], "affected_from": "2.0", "affected_to": "2.1", "fixed_in": "2.2"}
        ],
    )
    rows = firmware_distribution(
        fault, [("2.0.5", "TP-AC22", 2), ("2.0.5", "TP-DC180", 3), ("2.10", "TP-AC22", 1)]
    )
    assert [(r["version"], r["devices"], r["affected"], r["state"]) for r in rows] == [
        ("2.0.5", 5, 2, "partly"),
        ("2.10", 1, 0, "clear"),  # 2.10 is after 2.1, not between 2.0 and 2.1
    ]
    chart = version_chart(rows, with_issues=True)
    assert chart.bars[0].text == "5 chargers · 2 affected"
    assert chart.bars[0].affected_width == round(chart.bars[0].width * 2 / 5, 1)


def test_versions_sort_as_versions_and_unreadable_ones_last():
    versions = ["3.1.0", "abc", "3.0.10", "260420.0107", "3.0.2", "v3.0.9"]
    assert sorted(versions, key=version_order) == [
        "260420.0107",  # date/build versions together
        "3.0.2",
        "v3.0.9",
        "3.0.10",
        "3.1.0",
        "abc",
    ]


def test_a_chart_of_many_versions_draws_the_most_common_and_counts_the_rest():
    rows = [
        {"version": f"1.{n}", "devices": n, "affected": 0, "unknown": 0, "state": "clear"}
        for n in range(1, 31)
    ]
    chart = version_chart(rows, with_issues=False, max_bars=24)
    assert len(chart.bars) == 24 and chart.bars[0].version == "1.7"  # 1.1 to 1.6 left out
    assert (chart.other_versions, chart.other_devices) == (6, 21)
    assert chart.bars[-1].text == "30 chargers" and chart.bars[-1].width == 300
