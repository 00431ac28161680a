"""The diagnostics read queries: an operator's alerts only, each filter narrowing, a fixed
order; the shared dictionaries in a fixed order."""

from datetime import UTC, datetime, timedelta

import pytest

from diagnostics.models import Alert, FaultCode
from diagnostics.queries.alerts import alerts
from diagnostics.queries.faults import fault_codes, fault_titles
from diagnostics.queries.runbooks import runbooks
from diagnostics.services.loader import load_faults, load_runbooks
from fleet.models import DeviceEvent

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 15, 10, 0, tzinfo=UTC)


def alert(operator_id: str, alert_id: str, last_seen: int, **fields) -> Alert:
    """An alert last seen `last_seen` minutes after T0."""
    values = {"detector": "repeat_fault", "severity": "medium", "title": alert_id}
    seen = T0 + timedelta(minutes=last_seen)
    return Alert.objects.create(
        alert_id=alert_id, operator_id=operator_id, subject=alert_id, first_seen=seen,
        last_seen=seen, window_start=seen, **{**values, **fields},
    )  # fmt: skip


def test_alerts_are_the_operators_own_newest_detection_first(acme, rival):
    old, new = alert(acme.operator_id, "alt_old", 0), alert(acme.operator_id, "alt_new", 10)
    alert(rival.operator_id, "alt_rival", 5)
    assert list(alerts(acme.operator_id)) == [new, old]


def test_alerts_seen_together_are_ordered_by_id(acme):
    second, first = alert(acme.operator_id, "alt_b", 0), alert(acme.operator_id, "alt_a", 0)
    assert list(alerts(acme.operator_id)) == [first, second]


def test_each_alert_filter_narrows(acme, device):
    alert(acme.operator_id, "alt_plain", 0)
    for field, value in (
        ("device_id", device.device_id),
        ("site_id", device.site_id),
        ("severity", "critical"),
        ("status", "dismissed"),
    ):
        special = alert(acme.operator_id, f"alt_{field}", 1, **{field: value})
        assert list(alerts(acme.operator_id, **{field: value})) == [special], field
        special.delete()
    later = alert(acme.operator_id, "alt_later", 20)
    assert list(alerts(acme.operator_id, since=T0 + timedelta(minutes=20))) == [later]


def test_another_operators_device_narrows_alerts_to_nothing(acme, rival, assigned_device):
    foreign = assigned_device(rival.client)
    alert(rival.operator_id, "alt_rival", 0, device_id=foreign.device_id)
    assert list(alerts(acme.operator_id, device_id=foreign.device_id)) == []


def test_fault_codes_are_by_code_and_each_filter_narrows():
    load_faults()
    codes = list(fault_codes().values_list("code", flat=True))
    assert codes == sorted(codes) and len(codes) == FaultCode.objects.count()
    for field in ("severity", "category"):
        value = FaultCode.objects.values_list(field, flat=True).first()
        narrowed = fault_codes(**{field: value})
        assert 0 < narrowed.count() < len(codes), field
        assert {getattr(f, field) for f in narrowed} == {value}


def test_fault_titles_come_from_the_dictionary(device):
    load_faults()
    events = [
        DeviceEvent(device=device, event_type="fault", fault_code="F-0421"),
        DeviceEvent(device=device, event_type="fault", fault_code="X-9"),
        DeviceEvent(device=device, event_type="plug_in"),
    ]
    titles = fault_titles(events)
    assert titles == {"F-0421": FaultCode.objects.get(code="F-0421").title}


def test_runbooks_are_by_slug():
    load_faults()
    load_runbooks()
    slugs = list(runbooks().values_list("slug", flat=True))
    assert slugs and slugs == sorted(slugs)
