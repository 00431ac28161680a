"""One state of health per charger, derived from facts: faulted, offline, degraded,
healthy, with faulted before offline and offline before degraded; computed for a whole
queryset in one query."""

import pytest
from django.core.management import call_command
from django.utils import timezone

from diagnostics.models import Alert
from diagnostics.queries.health import (
    chargers,
    detailed,
    device_health,
    health_counts,
    site_rows,
    with_health,
)
from fleet.models import Connector, ConnectorState, Device, DeviceEvent
from fleet.services.tenancy import devices_of
from tests import factories

pytestmark = pytest.mark.django_db


def open_alert(device: Device, severity: str, status: str = "open", title: str = "t") -> Alert:
    return factories.alert(device, severity=severity, status=status, title=title)


def online(device: Device, **fields) -> Device:
    Device.objects.filter(pk=device.pk).update(status="online", **fields)
    device.refresh_from_db()
    return device


def connector(device: Device, state: str, n: int = 1) -> None:
    Connector.objects.update_or_create(device=device, connector_id=n, defaults={"state": state})


def health_of(device: Device) -> str:
    return with_health(Device.objects.filter(pk=device.pk)).get().health


@pytest.fixture
def depot(acme, site_for):
    return site_for(acme.client, "Acme Depot")


@pytest.fixture
def charger_at(acme, depot, assigned_device):
    return lambda **overrides: assigned_device(acme.client, depot, **overrides)


def test_an_online_charger_with_nothing_wrong_is_healthy(charger_at):
    device = online(charger_at())
    connector(device, ConnectorState.CHARGING)
    open_alert(device, "low")  # a low alert is shown but is not a problem of health
    open_alert(device, "high", status="resolved")  # closed alerts do not count
    assert health_of(device) == "healthy"


@pytest.mark.parametrize(
    "make_faulted",
    [
        lambda d: connector(d, ConnectorState.FAULT),
        lambda d: Device.objects.filter(pk=d.pk).update(reported_status="fault"),
        lambda d: Device.objects.filter(pk=d.pk).update(reported_fault_code=1001),
        lambda d: open_alert(d, "high"),
        lambda d: open_alert(d, "critical", status="acknowledged"),
    ],
    ids=["connector-fault", "fault-status", "fault-code", "high-alert", "acknowledged-critical"],
)
def test_each_fact_of_a_fault_makes_a_charger_faulted(charger_at, make_faulted):
    device = online(charger_at())
    make_faulted(device)
    assert health_of(device) == "faulted"


def test_an_unavailable_connector_or_a_zero_fault_code_is_not_a_fault(charger_at):
    device = online(charger_at(), reported_status="online", reported_fault_code=0)
    connector(device, ConnectorState.UNAVAILABLE)
    assert health_of(device) == "healthy"


def test_a_medium_alert_makes_a_charger_degraded(charger_at):
    device = online(charger_at())
    open_alert(device, "medium")
    assert health_of(device) == "degraded"


def test_a_silent_charger_is_offline(charger_at):
    device = charger_at()  # registered, never heard: offline
    assert device.status == "offline"
    assert health_of(device) == "offline"


def test_faulted_comes_before_offline_and_offline_before_degraded(charger_at):
    faulted_and_silent = charger_at()
    open_alert(faulted_and_silent, "high")
    degraded_and_silent = charger_at()
    open_alert(degraded_and_silent, "medium")
    assert health_of(faulted_and_silent) == "faulted"
    assert health_of(degraded_and_silent) == "offline"


def test_a_table_row_carries_the_top_alert_the_last_fault_and_connectors_in_fault(charger_at):
    call_command("load_diagnostics", verbosity=0)
    device = online(charger_at())
    open_alert(device, "medium", title="Repeated faults")
    open_alert(device, "high", title="Over temperature on connector 1")
    connector(device, ConnectorState.FAULT, 1)
    connector(device, ConnectorState.FAULT, 2)
    DeviceEvent.objects.create(
        device=device,
        connector_id=1,
        event_type="fault",
        timestamp=timezone.now(),
        fault_code="F-0421",
    )
    row = with_health(Device.objects.filter(pk=device.pk)).get()
    assert (row.top_alert_severity, row.top_alert_title) == (
        "high",
        "Over temperature on connector 1",
    )
    assert row.active_alerts == 2
    assert row.connectors_in_fault == 2
    assert row.last_fault_code == "F-0421"
    assert row.last_fault_title == "Contactor failed to engage on session start"


def test_counts_of_a_fleet_are_by_state_and_one_query(charger_at, django_assert_max_num_queries):
    healthy = online(charger_at())
    faulted = online(charger_at())
    open_alert(faulted, "high")
    degraded = online(charger_at())
    open_alert(degraded, "medium")
    charger_at()  # offline
    operator_id = healthy.site.operator_id
    with django_assert_max_num_queries(1):
        counts = health_counts(devices_of(operator_id))
    assert (counts.total, counts.faulted, counts.offline, counts.degraded, counts.healthy) == (
        4, 1, 1, 1, 1,
    )  # fmt: skip
    assert counts.online == 3


def test_a_page_of_chargers_costs_the_same_queries_whatever_its_size(
    charger_at, django_assert_max_num_queries
):
    for n in range(12):
        device = online(charger_at())
        open_alert(device, ("low", "medium", "high")[n % 3])
        connector(device, ConnectorState.FAULT if n % 4 == 0 else ConnectorState.IDLE)
    operator_id = device.site.operator_id
    # the ids in order (sorted by health), then the rows with everything a table shows
    # and their connectors (prefetched)
    with django_assert_max_num_queries(3):
        rows = detailed(list(chargers(operator_id).values_list("pk", flat=True)))
    assert len(rows) == 12
    assert [row.health for row in rows] == sorted(
        (row.health for row in rows), key=["faulted", "offline", "degraded", "healthy"].index
    )
    assert all(len(row.connectors.all()) == 1 for row in rows)
    # the sites, the chargers' states by site, connectors in fault, active alerts
    with django_assert_max_num_queries(4):
        sites = site_rows(operator_id)
    assert sites[0].chargers == 12
    assert sites[0].faulted == sum(row.health == "faulted" for row in rows)
    assert sites[0].active_alerts == 12


def test_one_chargers_health_names_its_alerts_worst_first(charger_at):
    device = online(charger_at())
    open_alert(device, "medium", title="Repeated faults")
    open_alert(device, "critical", title="Cutting out at 85 °C")
    connector(device, ConnectorState.FAULT, 2)
    health = device_health(device)
    assert health.state == "faulted"
    assert [alert.title for alert in health.alerts] == ["Cutting out at 85 °C", "Repeated faults"]
    assert health.connectors_in_fault == [2]
