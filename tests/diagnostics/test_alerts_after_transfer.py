"""Alerts when a charger changes operator: the previous operator's open alerts on it are
closed by the platform (it can no longer act on them, and its detectors no longer watch
the charger), recorded and audited in its trail; the new operator's health, banner and
counts never show the previous operator's alerts."""

import pytest

from diagnostics.models import Alert
from diagnostics.queries.health import device_health, health_counts, site_rows, with_health
from diagnostics.services.alerts import LEFT_THE_FLEET
from fleet.actors import Actor
from fleet.models import AuditEntry, Device
from fleet.services import provisioning
from fleet.services.tenancy import devices_of
from tests import factories

pytestmark = pytest.mark.django_db


def alert_of(operator_id: str, device: Device, severity: str = "high", status: str = "open"):
    return factories.alert(device, operator_id=operator_id, severity=severity, status=status)


@pytest.fixture
def world(make_client, site_for, assigned_device):
    a, _ = make_client("Acme Charging")
    b, _ = make_client("Rival Energy")
    depot = site_for(a, "Acme Depot")
    harbour = site_for(b, "Harbour")
    moving = assigned_device(a, depot)
    staying = assigned_device(a, depot)
    return a, b, depot, harbour, moving, staying


def test_the_previous_operators_open_alerts_on_a_moved_charger_are_closed(world):
    a, b, _, harbour, moving, staying = world
    hot = alert_of(a.operator_id, moving, status="open")
    seen = alert_of(a.operator_id, moving, severity="medium", status="acknowledged")
    done = alert_of(a.operator_id, moving, status="resolved")
    elsewhere = alert_of(a.operator_id, staying)
    staff = Actor.platform()

    provisioning.assign_device(staff, moving.device_id, harbour.site_id)
    platform = Actor.platform(a.operator_id)

    statuses = dict(Alert.objects.values_list("alert_id", "status"))
    assert statuses[hot.alert_id] == statuses[seen.alert_id] == "resolved"
    assert statuses[done.alert_id] == "resolved"
    assert statuses[elsewhere.alert_id] == "open"
    for alert in (hot, seen):
        alert.refresh_from_db()
        assert alert.closed_at is not None
        move = alert.transitions.get()
        assert (move.to_status, move.note, move.by) == ("resolved", LEFT_THE_FLEET, platform.label)
    trail = AuditEntry.objects.filter(action="resolve_alert", operator_id=a.operator_id)
    assert {entry.details["moved_by"] for entry in trail} == {staff.label}
    assert sorted(trail.values_list("resource_id", flat=True)) == sorted(
        [hot.alert_id, seen.alert_id]
    )
    assert not AuditEntry.objects.filter(action="resolve_alert", operator_id=b.operator_id)


def test_a_move_between_sites_of_one_operator_closes_nothing(world, site_for):
    a, _, _, _, moving, _ = world
    hot = alert_of(a.operator_id, moving)
    yard = site_for(a, "Acme Yard")
    provisioning.assign_device(Actor.platform(), moving.device_id, yard.site_id)
    hot.refresh_from_db()
    assert hot.status == "open"


def test_the_new_operator_never_sees_the_previous_operators_alerts(world):
    a, b, _, harbour, moving, _ = world
    provisioning.assign_device(Actor.platform(), moving.device_id, harbour.site_id)
    Device.objects.filter(pk=moving.pk).update(status="online")
    # An alert of the previous operator still open on the charger (written by a path that
    # bypassed the move's receiver, e.g. a bulk update of the site column).
    alert_of(a.operator_id, moving, severity="critical")

    row = with_health(Device.objects.filter(pk=moving.pk)).get()
    assert (row.health, row.active_alerts, row.top_alert_id) == ("healthy", 0, None)
    moving.refresh_from_db()
    banner = device_health(moving)
    assert (banner.state, banner.alerts) == ("healthy", [])
    assert health_counts(devices_of(b.operator_id)).faulted == 0
    (site,) = site_rows(b.operator_id)
    assert (site.site_id, site.faulted, site.active_alerts) == (harbour.site_id, 0, 0)

    mine = alert_of(b.operator_id, moving, severity="critical")
    row = with_health(Device.objects.filter(pk=moving.pk)).get()
    assert (row.health, row.active_alerts, row.top_alert_id) == ("faulted", 1, mine.alert_id)
