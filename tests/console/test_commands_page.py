"""The commands page: every command sent to the operator's chargers, newest first, with
its status history and who sent it; never another operator's."""

from datetime import UTC, datetime

import pytest

from fleet.actors import Actor
from fleet.models import Command
from fleet.services.commands import queue_command, report_command_status

pytestmark = pytest.mark.django_db
URL = "/commands/"


@pytest.fixture
def fleets(make_client, site_for, assigned_device):
    acme, _ = make_client("Acme Charging")
    rival, _ = make_client("Rival Energy")
    ours = [assigned_device(acme, site_for(acme, "Acme Depot")) for _ in range(2)]
    theirs = assigned_device(rival, site_for(rival, "Rival Yard"))
    return acme, rival, ours, theirs


def send(actor, device, command="start_charging", *, connector_id=1) -> Command:
    return queue_command(actor, device, command, {}, connector_id=connector_id)


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_every_role_sees_its_operators_commands_newest_first_and_none_of_anothers(
    fleets, signed_in
):
    acme, rival, ours, theirs = fleets
    sent = [send(Actor.for_client(acme), ours[n % 2]) for n in range(3)]
    foreign = send(Actor.for_client(rival), theirs)
    for role in ("viewer", "engineer", "operator", "admin"):
        response = signed_in("Acme Charging", role).get(URL)
        html = response.content.decode()
        assert [c.command_id for c in response.context["page"].items] == [
            c.command_id for c in reversed(sent)
        ]
        assert foreign.command_id not in html and theirs.sn not in html


def test_a_command_shows_its_charger_connector_status_history_and_reason(fleets, signed_in):
    acme, _, ours, _ = fleets
    command = send(Actor.for_client(acme), ours[0], "stop_charging", connector_id=2)
    report_command_status(
        ours[0].device_id, command.command_id, "rejected", datetime.now(UTC), "occupied"
    )
    html = signed_in("Acme Charging").get(URL).content.decode()
    assert "stop charging · connector 2" in html
    assert f'href="/devices/{ours[0].device_id}/">{ours[0].sn}</a>' in html
    assert '<span class="badge cmd-failed">failed</span> occupied' in html  # text, not colour
    assert "queued <span" in html and "rejected <span" in html  # the history, in order
    assert html.index("queued <span") < html.index("rejected <span")
    assert "<time datetime=" in html and " UTC</time>" in html


def test_the_issuer_is_the_api_client_the_console_user_or_the_platform(
    fleets, signed_in, console_user
):
    acme, _, ours, _ = fleets
    acme.name = "Billing bridge"
    acme.save()
    olga = console_user("olga", "Acme Charging", "operator")
    send(Actor.for_client(acme), ours[0])
    send(Actor.for_user(olga, acme.operator_id), ours[0], "stop_charging")
    send(Actor.platform(acme.operator_id), ours[1], "reboot", connector_id=None)

    html = signed_in("Acme Charging").get(URL).content.decode()
    assert "API client Billing bridge" in html
    assert "<td>olga</td>" in html
    assert "<td>the platform</td>" in html
    assert "whole charger" in html  # reboot has no connector


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"status": "failed"}, [1]),
        ({"status": "queued"}, [2, 0]),
        ({"command": "reboot"}, [2]),
        ({"command": "start_charging", "status": "queued"}, [0]),
        ({"device": "first"}, [1, 0]),
    ],
)
def test_the_table_filters_by_status_command_and_device(fleets, signed_in, query, expected):
    acme, _, ours, _ = fleets
    actor = Actor.for_client(acme)
    sent = [
        send(actor, ours[0]),
        send(actor, ours[0], "stop_charging"),
        send(actor, ours[1], "reboot", connector_id=None),
    ]
    report_command_status(ours[0].device_id, sent[1].command_id, "failed", datetime.now(UTC))
    if query.get("device") == "first":
        query = {"device": ours[0].device_id}

    page = signed_in("Acme Charging").get(URL, query).context["page"]
    assert [c.command_id for c in page.items] == [sent[n].command_id for n in expected]


def test_another_operators_device_as_a_filter_matches_nothing(fleets, signed_in):
    _, rival, _, theirs = fleets
    foreign = send(Actor.for_client(rival), theirs)
    response = signed_in("Acme Charging", "admin").get(URL, {"device": theirs.device_id})
    assert response.status_code == 200
    assert response.context["page"].total == 0
    assert foreign.command_id not in response.content.decode()
    assert "No command matches these filters" in response.content.decode()


def test_an_htmx_request_gets_the_table_fragment_alone(fleets, signed_in):
    acme, _, ours, _ = fleets
    command = send(Actor.for_client(acme), ours[0])
    response = signed_in("Acme Charging").get(URL, {"status": "queued"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="command-table"')
    assert command.command_id in html
    assert "<html" not in html and "<form" not in html


def test_a_history_restore_gets_the_whole_page(fleets, signed_in):
    response = signed_in("Acme Charging").get(
        URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"status": "exploded"},
        {"command": "rm -rf"},
        {"page": "0"},
        {"page": "x"},
        {"page": "99999999999"},
        {"device": "d\x00"},
        {"device": "x" * 500},
    ],
)
def test_bad_filters_get_a_message_not_an_error(fleets, signed_in, query):
    response = signed_in("Acme Charging").get(URL, query)
    assert response.status_code == 200
    assert response.context["page"] is None
    assert 'role="alert"' in response.content.decode()


def test_with_no_command_yet_the_page_says_how_one_is_sent(fleets, signed_in):
    html = signed_in("Acme Charging").get(URL).content.decode()
    assert "No command has been sent" in html
    assert "charger's page" in html


def test_the_table_pages_through_many_commands(fleets, signed_in):
    acme, _, ours, _ = fleets
    for _ in range(30):
        send(Actor.for_client(acme), ours[0])
    browser = signed_in("Acme Charging")
    first = browser.get(URL).context["page"]
    second = browser.get(URL, {"page": 2}).context["page"]
    assert (first.total, len(first.items), len(second.items)) == (30, 25, 5)
    assert not {c.pk for c in first.items} & {c.pk for c in second.items}
    beyond = browser.get(URL, {"page": 3})
    assert "There is no page 3" in beyond.content.decode()


def test_the_page_costs_a_bounded_number_of_queries(
    fleets, signed_in, console_user, django_assert_max_num_queries
):
    acme, _, ours, _ = fleets
    olga = console_user("olga", "Acme Charging", "operator")
    actors = [Actor.for_client(acme), Actor.for_user(olga, acme.operator_id)]
    for n in range(40):
        command = send(actors[n % 2], ours[n % 2])
        report_command_status(
            ours[n % 2].device_id, command.command_id, "accepted", datetime.now(UTC)
        )
    browser = signed_in("Acme Charging")
    # Session, user, membership; the count, the page (chargers and issuers joined), the
    # page's histories; the session's save (savepoint, update, release).
    with django_assert_max_num_queries(9):
        assert browser.get(URL).status_code == 200
    fragment = {"device": ours[0].device_id}  # read by its id or serial: one query more
    with django_assert_max_num_queries(10):
        assert browser.get(URL, fragment, HTTP_HX_REQUEST="true").status_code == 200
