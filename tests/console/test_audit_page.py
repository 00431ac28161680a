"""The audit log page and its CSV export: the operator's trail newest first, who did
what to which subject with the fields before → after; engineers and above only; never
another operator's entries nor the platform-wide ones; every filter narrowing; the CSV
streamed, inert in a spreadsheet and bounded."""

import csv
import html as markup
import io
import json
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client

from console.web.access import STAFF_OPERATOR_KEY
from console.web.forms.audit import ACTION_LABELS, ACTION_WORDS, MAX_PAGE
from console.web.views.audit import CSV_HEADER
from diagnostics.services.alerts import AUDIT_ACTIONS
from fleet.models import AuditEntry

pytestmark = pytest.mark.django_db
URL, CSV_URL = "/audit/", "/audit.csv"
ROLES_THAT_READ = ("engineer", "operator", "admin")
BAD_FILTERS = [
    {"actor": "olga\x00"},
    {"subject_id": "dvc_\x00"},
    {"actor": "olga\x1b[31m"},
    {"subject_id": "dvc\t1"},
    {"actor": "o" * 151},
    {"subject_id": "x" * 81},
    {"action": "drop_table"},
    {"subject_type": "nonsense"},
    {"start": "yesterday"},
    {"start": "0000-01-01T00:00"},
    {"start": "0001-01-01T00:00"},
    {"end": "9999-12-31T23:59"},
    {"end": "10000-01-01T00:00"},
    {"start": "0001-01-01T00:00+01:00"},
    {"start": "2025-03-15T12:00", "end": "2025-03-15T10:00"},
    {"start": "2025-03-15T12:00", "end": "2025-03-15T12:00"},
    {"page": "0"},
    {"page": str(10**30)},
    {"page": "1e400"},
    {"page": str(MAX_PAGE + 1)},
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write(operator, actor: str, action: str, subject: str, when: str, **fields) -> AuditEntry:
    """One entry as the services write it, at a chosen time (`at` is set on insert)."""
    resource_type, _, resource_id = subject.partition(":")
    entry = AuditEntry.objects.create(
        operator=operator,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        **fields,
    )
    AuditEntry.objects.filter(pk=entry.pk).update(at=at(when))
    entry.refresh_from_db()
    return entry


@pytest.fixture
def operators(make_client):
    acme, _ = make_client("Acme Charging")
    acme.name = "Billing bridge"
    acme.save()
    rival, _ = make_client("Rival Energy")
    return acme, rival


@pytest.fixture
def readers(operators, signed_in) -> dict[str, Client]:
    """Acme's people of each role, signed in; the trail their creation wrote is cleared so
    each test holds only its own entries."""
    browsers = {role: signed_in("Acme Charging", role) for role in ("viewer", *ROLES_THAT_READ)}
    AuditEntry.objects.all().delete()
    return browsers


@pytest.fixture
def trail(operators, readers) -> dict[str, AuditEntry]:
    acme, rival = operators
    op, their_op = acme.operator, rival.operator
    return {
        "login": write(op, "user:olga", "login", "user:7", "2025-03-15T08:00:00", ip="10.0.0.7"),
        "ack": write(
            op, "user:olga", "acknowledge_alert", "alert:alr_1", "2025-03-15T09:00:00",
            details={"note": "on site at 14:00"},
            before={"status": "open"}, after={"status": "acknowledged"},
        ),
        "command": write(
            op, f"client:{acme.client_id}", "execute_command", "device:dvc_1",
            "2025-03-15T10:00:00", details={"command": "start_charging", "connector_id": 1},
        ),
        "site": write(
            op, "platform", "update", "site:site_1", "2025-03-15T11:00:00",
            before={"power_capacity": 100.0}, after={"power_capacity": 150.0},
        ),
        "run": write(
            op, "user:erin", "start_runbook", "runbook_run:run_1", "2025-03-15T12:00:00",
            details={"runbook": "rb-contactor"},
        ),
        "theirs": write(
            their_op, "user:rex", "update", "device:dvc_rival", "2025-03-15T10:30:00",
            before={"name": "rival secret plan"}, after={"name": "rival other plan"},
        ),
        "platform_wide": write(
            None, "cli:root", "create", "fault_code:F-9999", "2025-03-15T10:45:00",
            after={"title": "platform wide fault"},
        ),
    }  # fmt: skip


def ids(response) -> list[int]:
    return [entry.pk for entry in response.context["page"].items]


def keys(trail, *names: str) -> list[int]:
    return [trail[name].pk for name in names]


def exported(response) -> list[list[str]]:
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- Who may read it ----------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for path in (URL, CSV_URL):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_viewers_are_refused_the_page_and_the_export(trail, readers):
    assert readers["viewer"].get(URL).status_code == 403
    assert readers["viewer"].get(CSV_URL).status_code == 403
    assert readers["viewer"].get(URL, HTTP_HX_REQUEST="true").status_code == 403


@pytest.mark.parametrize("role", ROLES_THAT_READ)
def test_engineers_and_above_see_their_operators_trail_newest_first(trail, readers, role):
    response = readers[role].get(URL)
    assert response.status_code == 200
    assert ids(response) == keys(trail, "run", "site", "command", "ack", "login")
    html = response.content.decode()
    assert "rival secret plan" not in html and "dvc_rival" not in html and "rex" not in html
    assert "platform wide fault" not in html and "F-9999" not in html


def test_the_nav_offers_the_audit_log_to_engineers_and_above_only(trail, readers):
    link = '<a href="/audit/">Audit</a>'
    assert link not in readers["viewer"].get("/").content.decode()
    for role in ROLES_THAT_READ:
        assert link in readers[role].get("/").content.decode()


def test_platform_staff_read_the_trail_of_the_operator_they_chose(operators, trail):
    _, rival = operators
    staff = get_user_model().objects.create_user("root", password="staff-pass-123", is_staff=True)
    browser = Client()
    browser.force_login(staff)
    session = browser.session
    session[STAFF_OPERATOR_KEY] = rival.operator_id
    session.save()
    response = browser.get(URL)
    assert response.status_code == 200
    theirs = [e for e in response.context["page"].items if e.actor == "user:rex"]
    assert [e.pk for e in theirs] == [trail["theirs"].pk]
    assert trail["ack"].pk not in ids(response)
    assert "rival secret plan" in response.content.decode()


# --- What a row says ------------------------------------------------------------------------


def test_a_row_names_the_person_the_api_client_or_the_platform(trail, readers):
    html = readers["engineer"].get(URL).content.decode()
    assert '<td>olga<br><span class="muted">from 10.0.0.7</span></td>' in html
    assert "<td>the API client Billing bridge</td>" in html
    assert "<td>platform</td>" in html
    assert "<td>erin</td>" in html


def test_the_command_line_and_an_unknown_client_are_named_as_well(operators, readers):
    acme, rival = operators
    write(acme.operator, "cli:root", "create", "site:site_9", "2025-03-16T08:00:00")
    write(
        acme.operator, f"client:{rival.client_id}", "update", "device:dvc_9", "2025-03-16T09:00:00"
    )
    html = readers["engineer"].get(URL).content.decode()
    assert "<td>the command line (root)</td>" in html
    # Another operator's client (a charger moved between them) is not named, only its id.
    assert f"<td>the API client {rival.client_id}</td>" in html and "Rival Energy" not in html


def test_a_row_says_the_action_in_words_and_links_its_subject(trail, readers):
    html = readers["engineer"].get(URL).content.decode()
    assert "<td>acknowledged</td>" in html and '<code class="muted">acknowledge' not in html
    assert "<td>sent a command to</td>" in html and "<td>changed</td>" in html
    assert 'charger<br><a href="/devices/dvc_1/"><code>dvc_1</code></a>' in html
    assert 'site<br><a href="/sites/site_1/"><code>site_1</code></a>' in html
    assert 'alert<br><a href="/alerts/?status=all#alert-alr_1"><code>alr_1</code></a>' in html
    assert "user<br><code>7</code>" in html  # no page of its own: named, not linked
    assert '<time datetime="2025-03-15T09:00:00Z">2025-03-15 09:00:00 UTC</time>' in html


def test_a_runbook_run_links_to_its_page_when_the_console_has_one(trail, readers):
    from django.urls import NoReverseMatch, reverse

    html = readers["engineer"].get(URL).content.decode()
    try:
        run_page = reverse("console:run", args=["run_1"])
    except NoReverseMatch:
        assert "runbook run<br><code>run_1</code>" in html
    else:
        assert f'runbook run<br><a href="{run_page}"><code>run_1</code></a>' in html


def test_the_details_show_each_change_before_and_after_and_the_notes(trail, readers):
    html = readers["engineer"].get(URL).content.decode()
    assert "<dt>status</dt>" in html
    arrow = '<span aria-hidden="true">→</span><span class="sr-label">changed to</span>'
    assert f"open {arrow} acknowledged" in html
    assert "<dt>note</dt>\n    <dd>on site at 14:00</dd>" in html
    assert '100.0 <span aria-hidden="true">→</span>' in html and " 150.0</dd>" in html
    assert "<dt>command</dt>" in html and "start_charging" in html


def test_a_creation_shows_its_values_and_a_deletion_what_was_removed(operators, readers):
    acme, _ = operators
    write(acme.operator, "platform", "create", "site:site_2", "2025-03-16T08:00:00",
          after={"name": "North yard", "enabled": True})  # fmt: skip
    write(acme.operator, "platform", "delete", "site:site_3", "2025-03-16T09:00:00",
          before={"name": "Old yard"})  # fmt: skip
    html = readers["engineer"].get(URL).content.decode()
    assert '<span class="sr-label">set to</span>North yard' in html
    assert '<span class="sr-label">set to</span>yes' in html
    assert 'Old yard <span class="muted">(removed)</span>' in html


def test_long_values_are_cut_and_the_full_json_folded_beneath(operators, readers):
    acme, _ = operators
    note = "x" * 300
    many = {f"field_{n:02d}": n for n in range(12)}
    write(acme.operator, "user:olga", "update", "device:dvc_1", "2025-03-16T08:00:00",
          details={"note": note})  # fmt: skip
    write(acme.operator, "platform", "create", "device:dvc_2", "2025-03-16T09:00:00", after=many)
    html = readers["engineer"].get(URL).content.decode()
    assert note not in html.split("<pre>")[0]  # the list holds a cut copy
    assert "x" * 79 + "…" in html
    assert f'"note": "{note}"' in markup.unescape(html)  # the whole value, in the folded JSON
    assert "6 more fields · full JSON" in html  # 12 fields, 6 listed
    assert '"field_11": 11' in markup.unescape(html)


def test_text_from_the_trail_is_escaped(operators, readers):
    acme, _ = operators
    write(acme.operator, "user:<b>mallory</b>", "update", "device:<script>x</script>",
          "2025-03-16T08:00:00", details={"note": "<img src=x onerror=alert(1)>"})  # fmt: skip
    html = readers["engineer"].get(URL).content.decode()
    assert "<script>x</script>" not in html and "<img src=x" not in html
    assert "&lt;b&gt;mallory&lt;/b&gt;" in html


def test_an_action_the_page_has_no_words_for_reads_as_itself(operators, readers):
    acme, _ = operators
    write(acme.operator, "platform", "recalibrate_meter", "device:dvc_1", "2025-03-16T08:00:00")
    assert "<td>recalibrate meter</td>" in readers["engineer"].get(URL).content.decode()


def test_every_action_has_words_and_a_label():
    assert set(ACTION_WORDS) == set(ACTION_LABELS)
    assert set(AUDIT_ACTIONS.values()) <= set(ACTION_WORDS)


# --- Filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"actor": "olga"}, ["ack", "login"]),  # a bare name is a console user's
        ({"actor": "user:olga"}, ["ack", "login"]),
        ({"actor": "platform"}, ["site"]),
        ({"actor": "olg"}, []),  # names match exactly
        ({"action": "execute_command"}, ["command"]),
        ({"action": "update"}, ["site"]),
        ({"subject_type": "device"}, ["command"]),
        ({"subject_type": "alert", "subject_id": "alr_1"}, ["ack"]),
        ({"subject_id": "site_1"}, ["site"]),
        ({"subject_type": "device", "subject_id": "site_1"}, []),
        ({"start": "2025-03-15T10:00"}, ["run", "site", "command"]),  # from is inclusive
        ({"end": "2025-03-15T10:00"}, ["ack", "login"]),  # until is not
        ({"start": "2025-03-15T09:00", "end": "2025-03-15T11:00"}, ["command", "ack"]),
        ({"start": "2025-03-15T11:00:00+01:00"}, ["run", "site", "command"]),  # a zone counts
        ({"actor": "olga", "action": "login"}, ["login"]),
        ({"subject_id": "dvc_rival"}, []),  # another operator's subject matches nothing
        ({"actor": "rex"}, []),
    ],
)
def test_each_filter_narrows_the_trail(trail, readers, query, expected):
    response = readers["engineer"].get(URL, query)
    assert ids(response) == keys(trail, *expected)
    if query.get("actor") == "olga" and "action" not in query:
        assert "<td>the API client Billing bridge</td>" not in response.content.decode()


def test_the_client_filter_takes_the_label_the_trail_uses(operators, trail, readers):
    acme, _ = operators
    response = readers["engineer"].get(URL, {"actor": f"client:{acme.client_id}"})
    assert ids(response) == keys(trail, "command")


def test_the_who_box_suggests_the_operators_people_clients_and_the_platform(trail, readers):
    html = readers["engineer"].get(URL).content.decode()
    assert '<option value="engineer-acme">engineer-acme (console user)</option>' in html
    assert "API client Billing bridge</option>" in html
    assert '<option value="platform">' in html
    assert "rex" not in html


def test_with_nothing_matching_the_page_says_how_to_widen(trail, readers):
    html = readers["engineer"].get(URL, {"action": "logout"}).content.decode()
    assert "No entry matches these filters" in html


def test_with_an_empty_trail_the_page_says_what_lands_there(readers):
    html = readers["engineer"].get(URL).content.decode()
    assert "Nothing has been recorded for Acme Charging yet" in html


@pytest.mark.parametrize("query", BAD_FILTERS)
def test_hostile_filters_get_a_message_never_an_error(trail, readers, query):
    response = readers["engineer"].get(URL, query)
    assert response.status_code == 200
    assert response.context["page"] is None
    assert (
        '<p class="error" role="alert">These filters cannot be used: ' in response.content.decode()
    )
    fragment = readers["engineer"].get(URL, query, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and 'role="alert"' in fragment.content.decode()


def test_a_nul_byte_is_named_once(trail, readers):
    html = readers["engineer"].get(URL, {"actor": "olga\x00"}).content.decode()
    assert "These filters cannot be used: Who: Null characters are not allowed. <a" in html


def test_an_until_before_the_from_says_so(trail, readers):
    query = {"start": "2025-03-15T12:00", "end": "2025-03-15T10:00"}
    html = readers["engineer"].get(URL, query).content.decode()
    assert "Until: Until must be after From." in html


def test_a_year_outside_the_range_says_which_range(trail, readers):
    for query in ({"start": "0001-01-01T00:00"}, {"end": "9999-12-31T23:59"}):
        html = readers["engineer"].get(URL, query).content.decode()
        assert "from 2000-01-01 up to 2100-01-01" in html


def test_a_page_past_the_paged_entries_says_how_to_reach_older_ones(trail, readers):
    html = readers["engineer"].get(URL, {"page": str(10**30)}).content.decode()
    assert f"pages 1 to {MAX_PAGE}" in html and "choose an earlier Until" in html


# --- HTMX and paging -----------------------------------------------------------------------


def test_an_htmx_request_gets_the_table_fragment_alone(trail, readers):
    response = readers["engineer"].get(URL, {"action": "login"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="audit-table"')
    assert "<html" not in html and "<form" not in html
    assert html.count("<tr>") == 2  # the header and the sign-in


def test_a_history_restore_gets_the_whole_page(trail, readers):
    response = readers["engineer"].get(
        URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


def test_the_table_pages_through_the_trail(operators, readers):
    acme, _ = operators
    for n in range(30):
        write(
            acme.operator, "platform", "update", f"site:s{n}", f"2025-03-01T{n % 24:02d}:{n:02d}:00"
        )
    browser = readers["engineer"]
    first, second = browser.get(URL), browser.get(URL, {"page": 2})
    assert (first.context["page"].total, len(ids(first)), len(ids(second))) == (30, 25, 5)
    assert not set(ids(first)) & set(ids(second))
    assert "30 entries · page 1 of 2" in first.content.decode()
    assert "There is no page 3" in browser.get(URL, {"page": 3}).content.decode()


def test_past_the_counted_entries_the_page_says_more_than(operators, readers, monkeypatch):
    acme, _ = operators
    monkeypatch.setattr("console.web.views.audit.COUNT_LIMIT", 10)
    for n in range(12):
        write(acme.operator, "platform", "update", f"site:s{n}", f"2025-03-01T00:{n:02d}:00")
    response = readers["engineer"].get(URL)
    assert response.context["more"] is True
    assert "More than 10 entries · page 1 of 1" in response.content.decode()


def test_the_download_link_carries_the_filters_but_not_the_page(trail, readers):
    html = readers["engineer"].get(URL, {"actor": "olga", "page": "1"}).content.decode()
    assert 'href="/audit.csv?actor=olga"' in html
    assert "the newest 100,000 entries these filters select at most" in html


def test_the_page_costs_a_bounded_number_of_queries(
    operators, readers, django_assert_max_num_queries
):
    acme, rival = operators
    for n in range(60):
        actor = ("user:olga", f"client:{acme.client_id}", "platform", f"client:{rival.client_id}")
        write(acme.operator, actor[n % 4], "update", f"device:d{n}", "2025-03-01T00:00:00",
              before={"a": n}, after={"a": n + 1})  # fmt: skip
    browser = readers["engineer"]
    # Session, user, membership; the capped count, the page and its clients' names; the
    # people and clients the "Who" box suggests (not in a fragment); the session's save
    # (a savepoint around its update).
    # And the serials of the chargers the entries are about.
    with django_assert_max_num_queries(12):
        assert browser.get(URL).status_code == 200
    with django_assert_max_num_queries(10):
        assert browser.get(URL, {"page": 2}, HTTP_HX_REQUEST="true").status_code == 200


# --- The CSV export ----------------------------------------------------------------------------


def test_the_csv_is_a_streamed_attachment_named_with_the_date(trail, readers):
    response = readers["engineer"].get(CSV_URL)
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    assert response["X-Export-Limit"] == "100000"


def test_the_csv_has_one_row_per_entry_with_its_fields(trail, readers):
    header, *rows = exported(readers["admin"].get(CSV_URL))
    assert header == CSV_HEADER == [
        "at_utc", "actor", "action", "resource_type", "resource_id", "ip", "details", "before",
        "after",
    ]  # fmt: skip
    assert [row[0] for row in rows] == [
        "2025-03-15T12:00:00Z", "2025-03-15T11:00:00Z", "2025-03-15T10:00:00Z",
        "2025-03-15T09:00:00Z", "2025-03-15T08:00:00Z",
    ]  # fmt: skip
    ack = rows[3]
    assert ack[1:5] == ["user:olga", "acknowledge_alert", "alert", "alr_1"]
    assert json.loads(ack[6]) == {"note": "on site at 14:00"}
    assert (json.loads(ack[7]), json.loads(ack[8])) == (
        {"status": "open"},
        {"status": "acknowledged"},
    )
    assert rows[4][5] == "10.0.0.7" and rows[4][7] == rows[4][8] == ""


def test_the_csv_never_holds_another_operators_or_platform_wide_entries(trail, readers):
    text = b"".join(readers["admin"].get(CSV_URL).streaming_content).decode()
    assert "dvc_rival" not in text and "rex" not in text and "F-9999" not in text
    foreign = exported(readers["admin"].get(CSV_URL, {"subject_id": "dvc_rival"}))
    assert foreign == [CSV_HEADER]


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"actor": "olga"}, ["ack", "login"]),
        ({"action": "update"}, ["site"]),
        ({"subject_type": "device", "subject_id": "dvc_1"}, ["command"]),
        ({"start": "2025-03-15T09:00", "end": "2025-03-15T11:00"}, ["command", "ack"]),
        ({"page": "2"}, ["run", "site", "command", "ack", "login"]),  # the page is the page's
    ],
)
def test_the_csv_selects_what_the_page_selects(trail, readers, query, expected):
    rows = exported(readers["engineer"].get(CSV_URL, query))[1:]
    times = {utc: name for name, entry in trail.items() for utc in [entry.at.isoformat()]}
    assert [times[datetime.fromisoformat(row[0]).isoformat()] for row in rows] == expected


@pytest.mark.parametrize("actor", ['=HYPERLINK("http://x")', "+1", "-1+2", "@SUM(A1)"])
def test_text_a_spreadsheet_would_run_as_a_formula_is_made_inert(operators, readers, actor):
    acme, _ = operators
    write(acme.operator, actor, "update", "device:-1", "2025-03-16T08:00:00",
          details={"note": "=cmd|' /C calc'!A0"}, after={"name": "=1+1"})  # fmt: skip
    _, row = exported(readers["engineer"].get(CSV_URL))
    assert row[1] == "'" + actor
    assert row[4] == "'-1"
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert json.loads(row[6]) == {"note": "=cmd|' /C calc'!A0"}  # a JSON cell stays JSON


@pytest.mark.parametrize("query", BAD_FILTERS)
def test_bad_filters_refuse_the_export_with_the_reason(trail, readers, query):
    response = readers["engineer"].get(CSV_URL, query)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.startswith(b"Nothing exported: ")


def test_the_csv_stops_at_its_limit_newest_first(operators, readers, monkeypatch):
    acme, _ = operators
    monkeypatch.setattr("console.web.views.audit.EXPORT_LIMIT", 3)
    for n in range(5):
        write(acme.operator, "platform", "update", f"site:s{n}", f"2025-03-01T00:0{n}:00")
    rows = exported(readers["engineer"].get(CSV_URL))[1:]
    assert [row[4] for row in rows] == ["s4", "s3", "s2"]


def test_the_csv_costs_the_same_few_queries_for_many_entries(
    operators, readers, django_assert_max_num_queries
):
    acme, _ = operators
    AuditEntry.objects.bulk_create(
        AuditEntry(operator=acme.operator, actor="platform", action="update",
                   resource_type="site", resource_id=f"s{n}", after={"n": n})
        for n in range(2500)
    )  # fmt: skip
    browser = readers["engineer"]
    # Session, user, membership; one cursor over the entries, however many chunks it is
    # read in; the session's save (a savepoint around its update).
    with django_assert_max_num_queries(7):
        rows = exported(browser.get(CSV_URL))
    assert len(rows) == 1 + 2500


def test_under_asgi_the_csv_is_streamed_as_it_is_read(trail, console_user):
    user = console_user("ezra", "Acme Charging", "engineer")

    async def download():
        browser = AsyncClient()
        await browser.aforce_login(user)
        response = await browser.get(CSV_URL, {"actor": "olga"})
        chunks = [chunk async for chunk in response.streaming_content]
        return response, chunks

    response, chunks = async_to_sync(download)()
    assert response.status_code == 200 and response.is_async
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    assert rows[0] == CSV_HEADER
    assert [row[2] for row in rows[1:]] == ["acknowledge_alert", "login"]
