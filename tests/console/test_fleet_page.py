"""The fleet page: an operator's chargers at a glance and the searchable device table,
never another operator's."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from diagnostics.models import Alert
from fleet.models import Connector, ConnectorState, Device, DeviceEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_fleets(make_client, assigned_device, site_for):
    acme, _ = make_client("Acme Charging")
    rival, _ = make_client("Rival Energy")
    depot = site_for(acme, "Acme Depot")
    ours = [assigned_device(acme, depot, model=f"AC-{n}") for n in range(3)]
    theirs = assigned_device(rival, site_for(rival, "Rival Yard"))
    return acme, rival, ours, theirs


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_user_of_no_operator_who_is_not_staff_is_refused(client):
    get_user_model().objects.create_user("stray", password="s3cret-pass")
    client.login(username="stray", password="s3cret-pass")
    assert client.get("/").status_code == 403


def test_each_role_sees_its_operators_fleet_and_nothing_of_another(two_fleets, signed_in):
    _acme, _rival, ours, theirs = two_fleets
    for role in ("viewer", "engineer", "operator", "admin"):
        page = signed_in("Acme Charging", role).get("/").content.decode()
        assert all(device.sn in page for device in ours)
        assert theirs.sn not in page
        assert "Rival" not in page
        assert "Acme Depot" in page


def test_counts_show_online_offline_and_faulted(two_fleets, signed_in):
    _, _, ours, theirs = two_fleets
    Device.objects.filter(pk=ours[0].pk).update(status="online")
    Device.objects.filter(pk=ours[1].pk).update(status="online", reported_fault_code=1001)
    Connector.objects.update_or_create(
        device=theirs, connector_id=1, defaults={"state": ConnectorState.FAULT}
    )

    response = signed_in("Acme Charging").get("/")
    counts = response.context["overview"].devices
    assert (counts.total, counts.online, counts.offline, counts.faulted) == (3, 2, 1, 1)


def test_open_alerts_are_counted_by_severity_for_this_operator_only(two_fleets, signed_in):
    acme, rival, ours, _theirs = two_fleets
    now = ours[0].registered_at
    for n, (operator, severity, status) in enumerate(
        [
            (acme.operator, "high", "open"),
            (acme.operator, "high", "acknowledged"),
            (acme.operator, "low", "resolved"),
            (rival.operator, "critical", "open"),
        ]
    ):
        Alert.objects.create(
            alert_id=f"alr_{n}",
            operator=operator,
            detector="test",
            subject=f"s{n}",
            severity=severity,
            status=status,
            title="t",
            first_seen=now,
            last_seen=now,
            window_start=now,
        )
    response = signed_in("Acme Charging").get("/")
    assert dict(response.context["overview"].open_alerts) == {
        "critical": 0,
        "high": 2,
        "medium": 0,
        "low": 0,
    }


def test_recent_faults_are_the_operators_own_with_their_dictionary_title(two_fleets, signed_in):
    _, _, ours, theirs = two_fleets
    at = ours[0].registered_at
    DeviceEvent.objects.create(
        device=ours[0], connector_id=1, event_type="fault", timestamp=at, fault_code="F-0421"
    )
    DeviceEvent.objects.create(
        device=theirs, connector_id=1, event_type="fault", timestamp=at, fault_code="F-0999"
    )

    faults = signed_in("Acme Charging").get("/").context["overview"].recent_faults
    assert [event.fault_code for event in faults] == ["F-0421"]


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"q": "AC-1"}, [1]),
        ({"status": "online"}, [0]),
        ({"status": "faulted"}, [2]),
        ({"status": "offline", "q": "ac-"}, [2, 1]),  # worst health first: 2 is faulted
        ({"health": "faulted"}, [2]),
        ({"health": "offline"}, [1]),
        ({"health": "healthy"}, [0]),
    ],
)
def test_the_device_table_searches_and_filters(two_fleets, signed_in, query, expected):
    _, _, ours, _ = two_fleets
    Device.objects.filter(pk=ours[0].pk).update(status="online")
    Connector.objects.update_or_create(
        device=ours[2], connector_id=1, defaults={"state": ConnectorState.FAULT}
    )

    page = signed_in("Acme Charging").get("/", query).context["page"]
    assert [device.pk for device in page.items] == [ours[n].pk for n in expected]


def test_an_htmx_request_gets_the_table_fragment_alone(two_fleets, signed_in):
    _, _, ours, _ = two_fleets
    response = signed_in("Acme Charging").get("/", {"q": ours[0].sn}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="device-table"')
    assert ours[0].sn in html and ours[1].sn not in html
    assert "<html" not in html


def test_another_operators_site_as_a_filter_matches_nothing(two_fleets, signed_in):
    _, _, _, theirs = two_fleets
    response = signed_in("Acme Charging").get("/", {"site": theirs.site_id})
    assert response.status_code == 200
    assert response.context["page"].total == 0
    assert theirs.sn not in response.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"},
        {"page": "99999999999"},
        {"page": "x"},
        {"status": "exploded"},
        {"q": "a\x00b"},
        {"q": "x" * 500},
    ],
)
def test_bad_filters_get_a_message_not_an_error(two_fleets, signed_in, query):
    response = signed_in("Acme Charging").get("/", query)
    assert response.status_code == 200
    assert response.context["page"] is None
    assert 'role="alert"' in response.content.decode()


def test_the_table_pages_through_a_large_fleet(make_client, assigned_device, site_for, signed_in):
    acme, _ = make_client("Acme Charging")
    depot = site_for(acme)
    for _ in range(30):
        assigned_device(acme, depot)
    browser = signed_in("Acme Charging")
    first, second = browser.get("/").context["page"], browser.get("/", {"page": 2}).context["page"]
    assert (first.total, len(first.items), len(second.items)) == (30, 25, 5)
    assert not {d.pk for d in first.items} & {d.pk for d in second.items}


def test_the_page_costs_a_bounded_number_of_queries(
    make_client, assigned_device, site_for, signed_in, django_assert_max_num_queries
):
    acme, _ = make_client("Acme Charging")
    sites = [site_for(acme, f"Site {n}") for n in range(5)]
    devices = [assigned_device(acme, sites[n % 5]) for n in range(40)]
    for device in devices[:10]:
        DeviceEvent.objects.create(
            device=device,
            connector_id=1,
            event_type="fault",
            timestamp=device.registered_at,
            fault_code="F-0421",
        )
    browser = signed_in("Acme Charging")
    # Session, user, membership; counts, alerts, sites and their connectors, faults and
    # their titles, site choices; the table's count, page and connectors; the session save.
    with django_assert_max_num_queries(17):
        assert browser.get("/").status_code == 200


def test_staff_see_the_operator_they_chose(two_fleets):
    _, rival, _, theirs = two_fleets
    get_user_model().objects.create_superuser("lead", password="s3cret-pass")
    browser = Client()
    browser.login(username="lead", password="s3cret-pass")
    assert "Acme Depot" in browser.get("/").content.decode()  # the first by name

    browser.post("/operator/", {"operator_id": rival.operator_id})
    page = browser.get("/").content.decode()
    assert theirs.sn in page and "Acme Depot" not in page


def test_a_member_cannot_switch_operator(two_fleets, signed_in):
    _, rival, _, theirs = two_fleets
    browser = signed_in("Acme Charging", "admin")
    browser.post("/operator/", {"operator_id": rival.operator_id})
    assert theirs.sn not in browser.get("/").content.decode()


def test_staff_on_a_platform_without_operators_are_told_what_to_do(db):
    get_user_model().objects.create_superuser("lead", password="s3cret-pass")
    browser = Client()
    browser.login(username="lead", password="s3cret-pass")
    response = browser.get("/")
    assert response.status_code == 200
    assert b"No operator yet" in response.content
